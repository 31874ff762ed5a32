#version 330 core
// dst3d G-buffer pass, loaded by pyrender in place of its segmentation shader:
// one draw gives camera-space normals and part ids (see dst3d/render/renderer.py);
// with color.g = 1 the same draw gives the mesh's own colour (the albedo pass).
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef COLOR_0_LOC
layout(location = COLOR_0_LOC) in vec4 color_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 P;
uniform mat4 V;
uniform mat4 M;

out vec3 cam_normal;
out vec3 cam_position;
out vec4 own_color;

void main()
{
    mat4 model_view = V * M * inst_m;
    vec4 p = model_view * vec4(position, 1.0);
    cam_position = p.xyz;
    gl_Position = P * p;
#ifdef COLOR_0_LOC
    own_color = color_0;
#else
    own_color = vec4(0.5, 0.5, 0.5, 1.0);
#endif
#ifdef NORMAL_LOC
    cam_normal = mat3(model_view) * normal;
#else
    cam_normal = vec3(0.0, 0.0, 1.0);
#endif
}
