// ParseError: why a wire view refused a buffer. Every value is a drop reason; the
// stack keeps one counter per value, named by to_string() (STYLE.md "Errors").
#pragma once

#include <cstdint>

namespace riptide::wire {

enum class ParseError : std::uint8_t {
  Truncated,         // buffer shorter than the fixed header
  BadVersion,        // IPv4: version field is not 4; IPv6: not 6
  BadHeaderLength,   // IPv4: IHL < 5 or header runs past the buffer
  BadTotalLength,    // IPv4: total length < header length or > buffer
  BadDataOffset,     // TCP: data offset < 5 or header runs past the segment
  OptionOverrun,     // TCP: option length byte missing or option runs past the header
  ZeroLengthOption,  // TCP: option length 0 or 1 (would never advance)
  BadOptionLength,   // TCP: known option kind with the wrong length
  BadHardwareType,   // ARP: hardware type is not Ethernet (1)
  BadProtocolType,   // ARP: protocol type is not IPv4 (0x0800)
  BadAddressLength,  // ARP: hardware length != 6 or protocol length != 4
  Unsupported,       // well formed but something this stack does not handle
  BadPayloadLength,  // IPv6: payload length > buffer (or 0: jumbograms are not supported)
};

inline constexpr std::uint8_t kParseErrorCount = 13;

// snake_case name ("truncated", "bad_data_offset"), usable as a counter name.
// Thread-safe: returns a pointer to a string literal.
[[nodiscard]] const char* to_string(ParseError e) noexcept;

}  // namespace riptide::wire
