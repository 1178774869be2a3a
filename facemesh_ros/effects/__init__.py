"""AR effects anchored to tracked faces (spec §6): a 3D object (e.g. glasses) or face paint, with the face
mesh as depth occluder, rendered offscreen with OpenGL (moderngl + EGL). No ROS imports.

    from facemesh_ros.effects import EffectRenderer, glasses_effect, face_paint_effect
    with EffectRenderer(glasses_effect()) as renderer:
        out = renderer.render(rgb, camera, geometries).image   # or render_landmarks(rgb, camera, landmarks)
"""

from .assets import (
    ASSETS_DIR,
    GLASSES_PARTS,
    AssetError,
    Effect,
    FacePaintEffect,
    ObjectEffect,
    ObjectMesh,
    face_paint_effect,
    glasses_effect,
    load_obj,
    load_texture,
    object_effect,
)
from .renderer import EffectRenderer, EffectRendererUnavailable, RenderResult, create_gl_context, projection_matrix

__all__ = [
    "ASSETS_DIR",
    "GLASSES_PARTS",
    "AssetError",
    "Effect",
    "EffectRenderer",
    "EffectRendererUnavailable",
    "FacePaintEffect",
    "ObjectEffect",
    "ObjectMesh",
    "RenderResult",
    "create_gl_context",
    "face_paint_effect",
    "glasses_effect",
    "load_obj",
    "load_texture",
    "object_effect",
    "projection_matrix",
]
