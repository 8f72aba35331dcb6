#include "console/keys.hpp"

#include <set>

#include <catch2/catch.hpp>

namespace vigie::console {
namespace {

TEST_CASE("handle_key: q quits", "[keys]") {
  ListCursor cursor;
  KeyContext context{cursor, 5, 3};
  CHECK(handle_key('q', context) == Action::kQuit);
}

TEST_CASE("handle_key: r asks for a fetch", "[keys]") {
  ListCursor cursor;
  KeyContext context{cursor, 5, 3};
  CHECK(handle_key('r', context) == Action::kRefetch);
  CHECK(cursor.selected == 0);
}

TEST_CASE("handle_key: j and k, and the arrows, move the selection", "[keys]") {
  ListCursor cursor;
  KeyContext context{cursor, 5, 3};
  CHECK(handle_key('j', context) == Action::kRedraw);
  CHECK(cursor.selected == 1);
  CHECK(handle_key(key::kDown, context) == Action::kRedraw);
  CHECK(cursor.selected == 2);
  CHECK(handle_key('k', context) == Action::kRedraw);
  CHECK(cursor.selected == 1);
  CHECK(handle_key(key::kUp, context) == Action::kRedraw);
  CHECK(cursor.selected == 0);
}

TEST_CASE("handle_key: the selection stops at both ends", "[keys]") {
  ListCursor cursor;
  KeyContext context{cursor, 3, 10};
  handle_key('k', context);
  CHECK(cursor.selected == 0);
  for (int i = 0; i < 5; ++i) handle_key('j', context);
  CHECK(cursor.selected == 2);

  ListCursor empty;
  KeyContext none{empty, 0, 10};
  handle_key('j', none);
  handle_key(key::kEnd, none);
  handle_key(key::kPageDown, none);
  CHECK(empty.selected == 0);
}

TEST_CASE("handle_key: pages, first and last", "[keys]") {
  ListCursor cursor;
  KeyContext context{cursor, 25, 10};
  handle_key(key::kPageDown, context);
  CHECK(cursor.selected == 10);
  CHECK(cursor.top == 1);
  handle_key(key::kPageDown, context);
  handle_key(key::kPageDown, context);
  CHECK(cursor.selected == 24);
  CHECK(cursor.top == 15);
  handle_key(key::kPageUp, context);
  CHECK(cursor.selected == 14);
  CHECK(cursor.top == 14);
  handle_key(key::kHome, context);
  CHECK(cursor.selected == 0);
  CHECK(cursor.top == 0);
  handle_key(key::kEnd, context);
  CHECK(cursor.selected == 24);
  CHECK(cursor.top == 15);
}

TEST_CASE("handle_key: a resize redraws, an unbound key does nothing", "[keys]") {
  ListCursor cursor;
  cursor.selected = 2;
  KeyContext context{cursor, 5, 3};
  CHECK(handle_key(key::kResize, context) == Action::kRedraw);
  CHECK(handle_key('x', context) == Action::kNone);
  CHECK(handle_key('Q' + 1000, context) == Action::kNone);
  CHECK(cursor.selected == 2);
}

TEST_CASE("key_bindings: each key is bound once", "[keys]") {
  std::set<int> keys;
  for (const KeyBinding& binding : key_bindings()) {
    INFO(binding.key);
    CHECK(keys.insert(binding.key).second);
    CHECK(binding.handler != nullptr);
  }
  CHECK(keys.count('q') == 1);
}

}  // namespace
}  // namespace vigie::console
