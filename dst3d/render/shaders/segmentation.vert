#version 330 core
// dst3d G-buffer pass, loaded by pyrender in place of its segmentation shader:
// one draw gives camera-space normals and part ids (see dst3d/render/renderer.py).
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 P;
uniform mat4 V;
uniform mat4 M;

out vec3 cam_normal;
out vec3 cam_position;

void main()
{
    mat4 model_view = V * M * inst_m;
    vec4 p = model_view * vec4(position, 1.0);
    cam_position = p.xyz;
    gl_Position = P * p;
#ifdef NORMAL_LOC
    cam_normal = mat3(model_view) * normal;
#else
    cam_normal = vec3(0.0, 0.0, 1.0);
#endif
}
