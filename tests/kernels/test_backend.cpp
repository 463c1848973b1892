// make_backend: the backend names and the CUDA fallback. Primitive parity of every backend is
// tested in test_backend_parity.cpp.
#include <gtest/gtest.h>

#include "kernels/backend.h"
#include "util/error.h"

namespace moeprobe {
namespace {

TEST(MakeBackend, NamesAndFallback) {
  EXPECT_EQ(make_backend("reference")->name(), "reference");
  EXPECT_EQ(make_backend("cpu")->name(), "cpu");
  EXPECT_THROW(make_backend("gpu"), InputError);
  std::string notice;
  auto be = make_backend("auto", &notice);
  if (be->name() == "cpu") {
    EXPECT_NE(notice.find("using the CPU backend"), std::string::npos);
    try {
      make_backend("cuda");
      FAIL() << "cuda without a device must be an error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), "--device");
    }
  } else {
    EXPECT_EQ(be->name(), "cuda");
    EXPECT_TRUE(notice.empty());
  }
}

}  // namespace
}  // namespace moeprobe
