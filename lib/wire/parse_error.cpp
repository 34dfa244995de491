#include "wire/parse_error.hpp"

namespace riptide::wire {

const char* to_string(ParseError e) noexcept {
  switch (e) {
    case ParseError::Truncated: return "truncated";
    case ParseError::BadVersion: return "bad_version";
    case ParseError::BadHeaderLength: return "bad_header_length";
    case ParseError::BadTotalLength: return "bad_total_length";
    case ParseError::BadDataOffset: return "bad_data_offset";
    case ParseError::OptionOverrun: return "option_overrun";
    case ParseError::ZeroLengthOption: return "zero_length_option";
    case ParseError::BadOptionLength: return "bad_option_length";
    case ParseError::BadHardwareType: return "bad_hardware_type";
    case ParseError::BadProtocolType: return "bad_protocol_type";
    case ParseError::BadAddressLength: return "bad_address_length";
    case ParseError::Unsupported: return "unsupported";
    case ParseError::BadPayloadLength: return "bad_payload_length";
  }
  return "unknown";
}

}  // namespace riptide::wire
