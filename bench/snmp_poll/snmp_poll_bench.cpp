// vigie-bench-snmp: how many devices per second vigie's SNMP checks poll, or, with
// --exporter, how many Debian's prometheus-snmp-exporter scrapes, against the same
// simulated devices. bench/snmp_poll/run starts snmpsim and the exporter and drives it.

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/registry.hpp"
#include "plugins/snmp/devices.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kUsage = R"(usage: vigie-bench-snmp --port PORT [options]
  --port PORT         snmpsim's UDP port on 127.0.0.1
  --firewalls N       devices with communities fw-000.. (Sophos recordings), default 100
  --access-points N   devices with communities ap-000.. (UniFi recordings), default 100
  --rounds N          measured rounds, default 5; the figure is the median
  --exporter URL      measure prometheus-snmp-exporter at URL (modules named like the
                      communities) instead of vigie
  --concurrency N     concurrent scrapes with --exporter, default: every device at once
)";

struct Options {
  int port = 0;
  int firewalls = 100;
  int access_points = 100;
  int rounds = 5;
  std::string exporter;
  int concurrency = 0;
};

std::vector<std::string> names(const Options& o) {
  std::vector<std::string> out;
  char buffer[16];
  for (int i = 0; i < o.firewalls; ++i) {
    std::snprintf(buffer, sizeof buffer, "fw-%03d", i);
    out.push_back(buffer);
  }
  for (int i = 0; i < o.access_points; ++i) {
    std::snprintf(buffer, sizeof buffer, "ap-%03d", i);
    out.push_back(buffer);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Fleet {
  std::shared_ptr<vigie::plugins::snmp::Devices> devices;
  std::vector<std::unique_ptr<vigie::plugins::Check>> checks;
};

// A fresh set of devices and checks: nothing polled yet, so that the next round polls
// every device (a real agent polls each device once per max_age).
vigie::Result<Fleet> fleet(const Options& o, const std::vector<std::string>& devices_names) {
  using namespace vigie;
  json block = json::object();
  for (const auto& name : devices_names) {
    block[name] = {{"host", "127.0.0.1"},
                   {"port", o.port},
                   {"max_age", "1h"},
                   {"snmp", {{"community", name}, {"timeout", "5s"}, {"retries", 1}}}};
  }
  auto devices = plugins::snmp::Devices::create(block);
  if (!devices) return devices.status();
  Fleet out;
  out.devices = *devices;
  plugins::Environment env;
  env.devices = *devices;
  for (const auto& name : devices_names) {
    const bool firewall = name.starts_with("fw-");
    auto type = plugins::find_check_type(firewall ? "firewall/sophos" : "wifi/unifi");
    auto check = (*type)->make();
    check->attach(env);
    json params = {{"device", name}};
    if (firewall) params["clock"] = "device";
    if (Status s = check->configure(params); !s) return s.with_context(name);
    out.checks.push_back(std::move(check));
  }
  return out;
}

// One round: every check once; the first one polls every device, concurrently.
int poll_with_vigie(const Options& o) {
  using namespace vigie;
  const auto devices_names = names(o);
  std::vector<double> rates;
  int failures = 0;
  for (int round = 0; round <= o.rounds; ++round) {  // round 0 warms up: not counted
    auto set = fleet(o, devices_names);
    if (!set) {
      std::cerr << set.status().message() << "\n";
      return 1;
    }
    const auto start = Clock::now();
    int failed = 0;
    for (auto& check : set->checks) {
      const auto outcome = check->run({Clock::now() + std::chrono::seconds(60)});
      if (outcome.status == State::kUnknown) {
        if (failed++ == 0) std::cerr << "UNKNOWN: " << outcome.summary << "\n";
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate =
        static_cast<double>(set->checks.size() - static_cast<std::size_t>(failed)) / seconds;
    std::printf("vigie round %d: %zu devices in %.3f s, %.1f devices/s read, %d failed%s\n", round,
                set->checks.size(), seconds, rate, failed, round == 0 ? " (warm-up)" : "");
    if (round > 0) rates.push_back(rate);
    if (round > 0) failures += failed;
  }
  std::printf("vigie median: %.1f devices/s read, %d failed in all\n", median(rates), failures);
  return 0;
}

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

int exporter(const Options& o) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const auto devices_names = names(o);
  const int workers = o.concurrency > 0 ? o.concurrency : static_cast<int>(devices_names.size());
  std::vector<double> rates;
  int failures = 0;
  for (int round = 0; round <= o.rounds; ++round) {
    std::atomic<std::size_t> next{0};
    std::atomic<int> failed{0};
    std::mutex print;
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        CURL* curl = curl_easy_init();
        for (std::size_t i = next++; i < devices_names.size(); i = next++) {
          const std::string url = o.exporter + "/snmp?target=127.0.0.1:" + std::to_string(o.port) +
                                  "&module=" + devices_names[i];
          std::string body;
          curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
          curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
          curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
          curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
          long code = 0;
          const CURLcode rc = curl_easy_perform(curl);
          curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
          // A scrape that failed half-way is still a 200 with snmp_scrape_* only: count
          // it good only when a device metric came back.
          const bool good =
              rc == CURLE_OK && code == 200 && body.find("\nsysUpTime") != std::string::npos;
          if (!good && failed++ == 0) {
            std::lock_guard lock(print);
            std::cerr << "scrape of " << devices_names[i] << " failed: HTTP " << code << " "
                      << body.substr(0, 300) << "\n";
          }
        }
        curl_easy_cleanup(curl);
      });
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate =
        static_cast<double>(devices_names.size() - static_cast<std::size_t>(failed.load())) /
        seconds;
    std::printf("exporter round %d: %zu devices in %.3f s, %.1f devices/s read, %d failed%s\n",
                round, devices_names.size(), seconds, rate, failed.load(),
                round == 0 ? " (warm-up)" : "");
    if (round > 0) rates.push_back(rate);
    if (round > 0) failures += failed.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  std::printf("exporter median: %.1f devices/s read, %d failed in all\n", median(rates), failures);
  curl_global_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    const auto number = [&] {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0 || n > 100000) {
        std::cerr << arg << ": expected a number, got \"" << v << "\"\n";
        std::exit(2);
      }
      return static_cast<int>(n);
    };
    if (arg == "--port") o.port = number();
    else if (arg == "--firewalls") o.firewalls = number();
    else if (arg == "--access-points") o.access_points = number();
    else if (arg == "--rounds") o.rounds = std::max(1, number());
    else if (arg == "--exporter") o.exporter = value();
    else if (arg == "--concurrency") o.concurrency = number();
    else {
      std::cerr << kUsage;
      return arg == "--help" ? 0 : 2;
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.firewalls + o.access_points == 0) {
    std::cerr << kUsage;
    return 2;
  }
  return o.exporter.empty() ? poll_with_vigie(o) : exporter(o);
}
