// A fresh SQLite store in a temporary folder for each test, removed afterwards.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "store/store.h"

namespace aaj::store::test {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aaj-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = open_store({"sqlite", dir_, ""});
    ASSERT_TRUE(s.ok()) << s.error().detail;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace aaj::store::test
