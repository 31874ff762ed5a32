#version 330 core
// rgb: camera-space (OpenGL axes) unit normal mapped to [0, 1]; alpha: part id / 255.
uniform vec3 color;
in vec3 cam_normal;
in vec3 cam_position;
out vec4 frag_color;

void main()
{
    vec3 n = normalize(cam_normal);
    // Face the camera whatever the mesh's winding: imported meshes are often inconsistent.
    if (dot(n, -cam_position) < 0.0) n = -n;
    frag_color = vec4(n * 0.5 + 0.5, color.r);
}
