// ctest learns the test cases' names from Catch (catch_discover_tests) and splits them
// at ';': a case whose name has one is registered under a name that matches nothing,
// and then "passes" without running. This keeps every name runnable.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

TEST_CASE("Tests: no test case name contains a semicolon", "[meta]") {
  const std::filesystem::path root = std::filesystem::path(VIGIE_SOURCE_DIR) / "tests";
  std::vector<std::string> bad;
  int seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with("_test.cpp")) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    // Each TEST_CASE("name": the name runs to the first unescaped quote. (Plain
    // scanning: GCC 12 warns falsely inside std::regex under the sanitizers.)
    for (auto at = source.find("TEST_CASE(\""); at != std::string::npos;
         at = source.find("TEST_CASE(\"", at + 1)) {
      std::string test_name;
      for (auto i = at + 11; i < source.size() && source[i] != '"'; ++i) {
        if (source[i] == '\\' && i + 1 < source.size()) ++i;
        test_name += source[i];
      }
      ++seen;
      if (test_name.find(';') != std::string::npos)
        bad.push_back(entry.path().filename().string() + ": " + test_name);
    }
  }
  CHECK(seen > 100);
  std::string listed;
  for (const auto& b : bad) listed += b + "\n";
  INFO(listed);
  CHECK(bad.empty());
}

}  // namespace
