// A palette PNG as a data: URI, for heat maps too large to draw as one SVG rectangle per cell
// (hundreds of experts): one byte per cell, zlib-compressed, embedded inline in report.html.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace moeprobe {

struct PaletteImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;                  // row-major palette indices, width * height
  std::vector<std::array<std::uint8_t, 3>> colours;  // the palette, at most 256 entries
  int transparent = -1;                              // a palette index drawn transparent, or -1
};

// "data:image/png;base64,..." of the image. Throws std::invalid_argument for an inconsistent one.
std::string png_data_uri(const PaletteImage& image);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(const std::string& bytes);

}  // namespace moeprobe
