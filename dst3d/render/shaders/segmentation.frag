#version 330 core
// rgb: camera-space (OpenGL axes) unit normal mapped to [0, 1]; alpha: part id / 255.
// color.g = 1 (the albedo pass): rgb = the mesh's own colour (vertex colours) instead.
uniform vec3 color;
in vec3 cam_normal;
in vec3 cam_position;
in vec4 own_color;
out vec4 frag_color;

void main()
{
    if (color.g > 0.5) {
        frag_color = vec4(own_color.rgb, color.r);
        return;
    }
    vec3 n = normalize(cam_normal);
    // Face the camera whatever the mesh's winding: imported meshes are often inconsistent.
    if (dot(n, -cam_position) < 0.0) n = -n;
    frag_color = vec4(n * 0.5 + 0.5, color.r);
}
