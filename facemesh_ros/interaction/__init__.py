"""For robot stacks, without ROS: ROS4HRI views of a face (hri: string ids, the 70 facial landmarks, cropped and
aligned faces), FACS action units from the blendshapes (facs), the primary face to look at (primary_face) and
the pan/tilt head-tracking control law (head_tracking). The ROS adapter (facemesh_ros.ros) publishes them."""
