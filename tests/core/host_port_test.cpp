#include "core/host_port.h"

#include <gtest/gtest.h>

namespace aaj::net {
namespace {

TEST(HostPort, Splits) {
  auto a = split_host_port("127.0.0.1:8443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8443);
  auto v6 = split_host_port("[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 8443);
  auto any = split_host_port("localhost:0");  // a listener's "any free port"
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->second, 0);
  EXPECT_EQ(split_host_port("h:65535")->second, 65535);
}

TEST(HostPort, RefusesMalformed) {
  for (const char* bad :
       {"localhost", "h:99999", "h:65536", "h:abc", "h:8a", "h:-1", "h:", ":80", "[]:80", ""}) {
    auto r = split_host_port(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "config") << bad;
  }
}

}  // namespace
}  // namespace aaj::net
