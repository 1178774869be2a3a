"""Synthetic camera input from real photos (numpy + OpenCV, no ROS, no models): test and demo material.

virtual_camera  a camera moving over a photo (pan, zoom, roll), with the exact image <-> photo mapping
demo_sequence   the built-in demo input (three photos, seven segments, the last a far field) and its truth
far_scenes      small real faces pasted on face-free photos (far-range tests and benchmark)
"""
