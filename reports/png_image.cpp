#include "reports/png_image.h"

#include <stdexcept>

#include <zlib.h>

namespace moeprobe {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<std::uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

std::string base64_encode(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_data_uri(const PaletteImage& im) {
  if (im.width <= 0 || im.height <= 0 ||
      im.pixels.size() != static_cast<std::size_t>(im.width) * im.height || im.colours.empty() ||
      im.colours.size() > 256)
    throw std::invalid_argument("png_data_uri: inconsistent image");
  for (std::uint8_t p : im.pixels)
    if (p >= im.colours.size()) throw std::invalid_argument("png_data_uri: index past the palette");

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(im.width));
  put_u32(header, static_cast<std::uint32_t>(im.height));
  header += std::string("\x08\x03\x00\x00\x00", 5);  // 8-bit palette, deflate, no interlace
  put_chunk(png, "IHDR", header);
  std::string palette;
  for (const auto& c : im.colours) palette.append(reinterpret_cast<const char*>(c.data()), 3);
  put_chunk(png, "PLTE", palette);
  if (im.transparent >= 0 && im.transparent < static_cast<int>(im.colours.size())) {
    std::string alpha(static_cast<std::size_t>(im.transparent) + 1, '\xff');
    alpha.back() = '\0';
    put_chunk(png, "tRNS", alpha);
  }
  // Each scanline: filter type 0 (none) then the indices.
  std::string raw;
  raw.reserve(im.pixels.size() + im.height);
  for (int y = 0; y < im.height; ++y) {
    raw += '\0';
    raw.append(
        reinterpret_cast<const char*>(im.pixels.data()) + static_cast<std::size_t>(y) * im.width,
        im.width);
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), 9) != Z_OK)
    throw std::runtime_error("png_data_uri: zlib compression failed");
  packed.resize(packed_size);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return "data:image/png;base64," + base64_encode(png);
}

}  // namespace moeprobe
