// Misuse gets a clear status and message, never a crash.
#include <dlfcn.h>

#include <cstring>

#include "support.h"

TEST(Misuse, VersionAndNames) {
  EXPECT_STREQ(llmsvc_version(), LLMSVC_VERSION_STRING);
  EXPECT_EQ(llmsvc_version_number(), uint32_t(LLMSVC_VERSION_NUMBER));
  EXPECT_STREQ(llmsvc_strerror(LLMSVC_ERECURSIVE), "blocking call from inside a completion callback");
  EXPECT_STREQ(llmsvc_strerror(12345), "unknown status");
  EXPECT_STREQ(llmsvc_error_kind_name(LLMSVC_KIND_INSUFFICIENT_QUOTA), "insufficient_quota");
  EXPECT_STREQ(llmsvc_error_kind_name(-1), "unknown");
}

TEST(Misuse, NullArguments) {
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_new(nullptr, "{}", &err), LLMSVC_EINVAL);
  EXPECT_STREQ(llmsvc_error_message(err), "out is NULL");
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_submit(nullptr, "{}", nullptr, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_cancel(nullptr, 1), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_destroy(nullptr), LLMSVC_OK);
  llmsvc_result *r = nullptr;
  EXPECT_EQ(llmsvc_client_generate(nullptr, "{}", &r, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_poll(nullptr, 0, &r, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_result_text(nullptr), nullptr);
  EXPECT_EQ(llmsvc_result_json(nullptr, nullptr), nullptr);
  llmsvc_result_free(nullptr);
  llmsvc_error_free(nullptr);
  llmsvc_free(nullptr);

  llmsvc_client *c = nullptr;
  ASSERT_EQ(llmsvc_client_new(&c, nullptr, nullptr), LLMSVC_OK);  // all defaults
  EXPECT_EQ(llmsvc_client_submit(c, nullptr, nullptr, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_metrics(c, nullptr, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_fd(c, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);
}

TEST(Misuse, BadConfiguration) {
  llmsvc_client *c = reinterpret_cast<llmsvc_client *>(0x1);
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_new(&c, "{not json", &err), LLMSVC_EJSON);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("config is not valid JSON"), std::string::npos);
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_new(&c, R"({"limits":{"rpm":"lots"}})", &err), LLMSVC_ESCHEMA);
  EXPECT_STREQ(llmsvc_error_message(err), "config.limits.rpm: expected an integer, got a string");
  EXPECT_EQ(llmsvc_error_status(err), LLMSVC_ESCHEMA);
  llmsvc_error_free(err);
}

TEST(Misuse, BadRequestsAreRejectedAtSubmitWithoutACompletion) {
  llmsvc_client *c = nullptr;
  ASSERT_EQ(llmsvc_client_new(&c, R"({"base_url":"http://127.0.0.1:9/v1"})", nullptr), LLMSVC_OK);
  Collector col;
  llmsvc_error *err = nullptr;
  uint64_t id = 99;
  EXPECT_EQ(llmsvc_client_submit(c, "{\"model\":", &Collector::callback, &col, &id, &err),
            LLMSVC_EJSON);
  EXPECT_EQ(id, 0u);
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_submit(c, R"({"model":"m","messages":"hi"})", &Collector::callback, &col,
                                 &id, &err),
            LLMSVC_ESCHEMA);
  EXPECT_STREQ(llmsvc_error_message(err), "request.messages: expected an array, got a string");
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);
  EXPECT_EQ(col.size(), 0u);
}

TEST(Misuse, UseAfterDestroyIsDetected) {
  llmsvc_client *c = nullptr;
  ASSERT_EQ(llmsvc_client_new(&c, "{}", nullptr), LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit(c, "{}", nullptr, nullptr, nullptr, &err), LLMSVC_EHANDLE);
  EXPECT_STREQ(llmsvc_error_message(err), "client was destroyed");
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_cancel(c, 1), LLMSVC_EHANDLE);
  EXPECT_EQ(llmsvc_client_destroy(c), LLMSVC_EHANDLE);
  char *m = nullptr;
  EXPECT_EQ(llmsvc_client_metrics(c, &m, nullptr), LLMSVC_EHANDLE);
}

TEST(Process, TheHostKeepsItsOwnAllocator) {
  // A library must not replace its host's malloc or operator new: mimalloc is loaded
  // privately, and the process's symbols still come from libc and libstdc++.
  Client client("{}");
  rapidjson::Document m = client.metrics();
  for (const char *symbol : {"malloc", "free", "_Znwm", "_ZdlPv"}) {
    Dl_info info{};
    void *at = dlsym(RTLD_DEFAULT, symbol);
    ASSERT_NE(at, nullptr) << symbol;
    ASSERT_NE(dladdr(at, &info), 0) << symbol;
    EXPECT_EQ(std::string(info.dli_fname).find("mimalloc"), std::string::npos)
        << symbol << " comes from " << info.dli_fname;
  }
#ifdef LLMSVC_SYSTEM_ALLOCATOR
  EXPECT_STREQ(m["allocator"].GetString(), "system");  // sanitizers see every allocation
#else
  EXPECT_STREQ(m["allocator"].GetString(), "mimalloc");
#endif
}
