#include "core/messages.h"

#include <gtest/gtest.h>

TEST(Messages, EveryCodeHasThreeLanguages) {
  const auto& all = aaj::messages::all();
  ASSERT_GT(all.size(), 20u);
  for (const auto& [code, texts] : all.items()) {
    for (const char* lang : {"kk", "ru", "en"}) {
      ASSERT_TRUE(texts.contains(lang)) << code << " lacks " << lang;
      EXPECT_FALSE(texts[lang].get<std::string>().empty()) << code << "/" << lang;
    }
  }
}

TEST(Messages, UnknownCodeFallsBackToInternalError) {
  EXPECT_FALSE(aaj::messages::has("no_such_code"));
  EXPECT_EQ(aaj::messages::localized("no_such_code"), aaj::messages::localized("internal_error"));
  EXPECT_EQ(aaj::messages::localized("revoked")["en"], "The certificate has been revoked.");
}
