// ctest learns the test cases' names from Catch (catch_discover_tests) and splits them
// at ';': a case whose name has one is registered under a name that matches nothing,
// and then "passes" without running. This keeps every name runnable.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

TEST_CASE("Tests: no test case name contains a semicolon", "[meta]") {
  const std::filesystem::path root = std::filesystem::path(VIGIE_SOURCE_DIR) / "tests";
  const std::regex test_case(R"re(TEST_CASE\(\s*"((?:[^"\\]|\\.)*)")re");
  std::vector<std::string> bad;
  int seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with("_test.cpp")) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    for (std::sregex_iterator it(source.begin(), source.end(), test_case), end; it != end; ++it) {
      ++seen;
      if ((*it)[1].str().find(';') != std::string::npos)
        bad.push_back(entry.path().filename().string() + ": " + (*it)[1].str());
    }
  }
  CHECK(seen > 100);
  std::string listed;
  for (const auto& b : bad) listed += b + "\n";
  INFO(listed);
  CHECK(bad.empty());
}

}  // namespace
