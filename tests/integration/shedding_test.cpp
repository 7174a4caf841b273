// Load shedding: a full queue or a wait beyond the class's bound fails the request at once
// with kind load_shed, and nothing is sent for it.
#include "support.h"

TEST(Shedding, AFullQueueShedsNewArrivalsOfItsClass) {
  EmulatorProcess emu({"--latency-ms", "300"});
  Client client(emu.config("sk-shed", R"("limits":{"concurrency":1},"queue":{"max_length":{"low":2}})"));
  Collector col;
  client.submit(prompt_request("holds the slot"), col);
  // The slot holder may still be in the queue for a moment: wait until it is in flight.
  ASSERT_TRUE(client.wait_metrics([](const rapidjson::Document &m) {
    return i64(m["requests"], "in_flight") == 1;
  }));
  client.submit(prompt_request("low one", "\"priority\":\"low\""), col);
  client.submit(prompt_request("low two", "\"priority\":\"low\""), col);
  uint64_t third = client.submit(prompt_request("low three", "\"priority\":\"low\""), col);
  client.submit(prompt_request("high", "\"priority\":\"high\""), col);
  ASSERT_TRUE(col.wait_for(5));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) {
    if (c.id == third) {
      EXPECT_EQ(c.kind, LLMSVC_KIND_LOAD_SHED) << c.json;
      EXPECT_NE(c.json.find("low-priority queue is full (2 waiting"), std::string::npos) << c.json;
    } else {
      EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;  // other classes are not bounded
    }
  }
  EXPECT_EQ(i64(emu.stats("sk-shed"), "received"), 4);
  EXPECT_EQ(i64(client.metrics()["failures_by_kind"], "load_shed"), 1);
  EXPECT_STREQ(llmsvc_error_kind_name(LLMSVC_KIND_LOAD_SHED), "load_shed");
}

TEST(Shedding, AWaitExpectedBeyondTheBoundFailsAtOnce) {
  EmulatorProcess emu;
  // One request a minute: once it is spent, the next would wait about a minute.
  Client client(emu.config("sk-wait", R"("limits":{"rpm":1},
                                         "queue":{"max_wait_ms":{"normal":1000}})"));
  ASSERT_EQ(client.generate(prompt_request("first")).kind, LLMSVC_KIND_NONE);
  Completed shed = client.generate(prompt_request("second"));
  EXPECT_EQ(shed.kind, LLMSVC_KIND_LOAD_SHED) << shed.json;
  EXPECT_NE(shed.json.find("more than the normal-priority queue.max_wait_ms 1000"),
            std::string::npos)
      << shed.json;
  rapidjson::Document d = shed.doc();
  EXPECT_LT(d["timing"]["total_ms"].GetDouble(), 1000.0);  // at once, not after waiting
  // High priority has no bound: it waits (here until its own deadline).
  Completed waits = client.generate(prompt_request("urgent", "\"priority\":\"high\",\"timeout_ms\":100"));
  EXPECT_EQ(waits.kind, LLMSVC_KIND_DEADLINE_EXCEEDED) << waits.json;
  EXPECT_EQ(i64(emu.stats("sk-wait"), "received"), 1);
}

TEST(Shedding, AWaitLongerThanTheBoundShedsWhenItPasses) {
  // A concurrency gate gives no rate to predict from: the bound is kept by a timer.
  EmulatorProcess emu({"--latency-ms", "800"});
  Client client(emu.config("sk-timer", R"("limits":{"concurrency":1},"queue":{"max_wait_ms":150})"));
  Collector col;
  client.submit(prompt_request("slow"), col);
  uint64_t queued = client.submit(prompt_request("behind it"), col);
  ASSERT_TRUE(col.wait_for(1));
  Completed first = col.results().front();
  EXPECT_EQ(first.id, queued);  // shed while the slow one is still in flight
  EXPECT_EQ(first.kind, LLMSVC_KIND_LOAD_SHED) << first.json;
  EXPECT_NE(first.json.find("without being admitted (queue.max_wait_ms 150)"), std::string::npos)
      << first.json;
  ASSERT_TRUE(col.wait_for(2));
  EXPECT_EQ(i64(emu.stats("sk-timer"), "received"), 1);
}
