"""Synthetic camera input from real photos (numpy + OpenCV, no ROS, no models): test and demo material.

virtual_camera  a camera moving over a photo (pan, zoom, roll), with the exact image <-> photo mapping
demo_sequence   the built-in demo input (two photos, six segments) and its per-frame ground truth
far_scenes      small real faces pasted on face-free photos (far-range tests and benchmark)
"""
