// libFuzzer target: the wire format between the agent and its network probe helper
// (plugins/net/probe.hpp): vigie-probe, which holds capabilities the agent does not
// (raw sockets for ping), reads a request the agent writes, and the agent reads the
// helper's answer lines; either may be broken or hostile. Whatever the text: no crash,
// no undefined behaviour; what decodes encodes to text that decodes the same (the
// second encoding equals the first), and a request's jobs are of its kind.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "plugins/net/probe.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace net = vigie::plugins::net;

template <class Answer>
void answer_round_trip(std::string_view text) {
  Answer answer;
  const auto job = net::decode_answer(text, answer);
  if (!job) return;
  const std::string once = net::encode_answer(*job, answer);
  Answer again;
  const auto job_again = net::decode_answer(once, again);
  VIGIE_FUZZ_CHECK(job_again.is_ok());
  VIGIE_FUZZ_CHECK(*job_again == *job);
  VIGIE_FUZZ_CHECK(net::encode_answer(*job_again, again) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto request = net::decode_request(text)) {
    // One kind of job in a request, the kind it names.
    const std::size_t kinds = (request->http.empty() ? 0 : 1) + (request->tls.empty() ? 0 : 1) +
                              (request->dns.empty() ? 0 : 1);
    VIGIE_FUZZ_CHECK(kinds <= 1);
    VIGIE_FUZZ_CHECK(request->http.empty() || request->kind == "http");
    VIGIE_FUZZ_CHECK(request->tls.empty() || request->kind == "tls");
    VIGIE_FUZZ_CHECK(request->dns.empty() || request->kind == "dns");
    VIGIE_FUZZ_CHECK(request->budget.count() >= 0);
    const std::string once = net::encode_request(*request);
    const auto again = net::decode_request(once);
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(net::encode_request(*again) == once);
  }
  answer_round_trip<net::HttpAnswer>(text);
  answer_round_trip<net::TlsAnswer>(text);
  answer_round_trip<net::DnsAnswer>(text);
  return 0;
}
