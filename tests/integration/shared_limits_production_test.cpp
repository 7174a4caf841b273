// Shared limits against Redis as production runs it: TLS with a CA made here (and a client
// certificate the server requires), passwords, and Sentinel moving the master to a replica
// while clients share a limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "redis_process.h"
#include "support.h"

namespace {

// A directory of test certificates: a CA, a server certificate for 127.0.0.1 and
// localhost, a client certificate, and a second CA nobody trusts. Made with the openssl
// command; removed at the end.
class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/llmsvc-pki-XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "";
    ok_ = !dir_.empty() && ca("ca") && ca("other") && leaf("server", "localhost", true) &&
          leaf("client", "llmsvc-client", false);
  }
  ~TestPki() {
    if (!dir_.empty() && std::system(("rm -rf '" + dir_ + "'").c_str()) != 0) {
    }
  }
  bool ok() const { return ok_; }
  std::string path(const std::string &name) const { return dir_ + "/" + name; }

 private:
  bool run(const std::string &cmd) {
    return std::system(("cd '" + dir_ + "' && " + cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool ca(const std::string &name) {
    return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
               "-subj /CN=" + name + "-test-ca -keyout " + name + ".key -out " + name + ".crt");
  }
  bool leaf(const std::string &name, const std::string &cn, bool server) {
    std::ofstream(path(name + ".ext"))
        << (server ? "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                   : "extendedKeyUsage=clientAuth\n");
    return run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" +
               cn + " -keyout " + name + ".key -out " + name + ".csr") &&
           run("openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial "
               "-days 2 -extfile " + name + ".ext -out " + name + ".crt");
  }
  std::string dir_;
  bool ok_ = false;
};

std::string text_of(Client &c) {
  char *json = nullptr;
  EXPECT_EQ(llmsvc_client_metrics(c.get(), &json, nullptr), LLMSVC_OK);
  std::string text = json ? json : "";
  llmsvc_free(json);
  return text;
}

// The shared-limit error the client reports comes to say `what`.
bool error_says(Client &c, const std::string &what) {
  return c.wait_metrics(
      [&](const rapidjson::Document &m) {
        const rapidjson::Value &e = m["shared_limits"]["last_error"];
        return e.IsString() && std::string(e.GetString()).find(what) != std::string::npos;
      },
      std::chrono::seconds(15));
}

}  // namespace

TEST(SharedLimitsProduction, TlsWithClientCertificatesPasswordsAndClearErrors) {
  TestPki pki;
  ASSERT_TRUE(pki.ok()) << "openssl could not make the test certificates";
  const int tls_port = RedisProcess::free_port();
  RedisProcess redis({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                      pki.path("server.crt"), "--tls-key-file", pki.path("server.key"),
                      "--tls-ca-cert-file", pki.path("ca.crt"), "--tls-auth-clients", "yes"});
  ASSERT_EQ(redis.command("CONFIG SET requirepass tls-pw-4321"), "+OK");
  EmulatorProcess emu;
  const std::string at = "127.0.0.1:" + std::to_string(tls_port);
  auto config = [&](const std::string &url, const std::string &tls) {
    return emu.config("sk-tls", R"("model":"gpt-4o-mini","limits":{"rpm":600,"window_ms":1000},)"
                                R"("shared_limits":{"redis":")" + url + "\"" + tls + "}");
  };
  const std::string client_cert = R"(,"tls_cert":")" + pki.path("client.crt") +
                                  R"(","tls_key":")" + pki.path("client.key") + "\"";
  const std::string trusted = R"(,"tls_ca":")" + pki.path("ca.crt") + "\"" + client_cert;
  {
    // Verified against the test CA, with a client certificate and the password.
    Client ok(config("rediss://:tls-pw-4321@" + at, trusted));
    Completed r = ok.generate(prompt_request("over tls"));
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    rapidjson::Document m = ok.metrics();
    EXPECT_STREQ(m["shared_limits"]["mode"].GetString(), "shared") << text_of(ok);
    EXPECT_TRUE(m["shared_limits"]["tls"].GetBool());
    EXPECT_EQ(text_of(ok).find("tls-pw-4321"), std::string::npos);
  }
  // The budget is in this Redis (asked over its plain port, with the password).
  std::string keys = redis.command_all("AUTH tls-pw-4321\r\nKEYS llmsvc:*");
  EXPECT_NE(keys.find("llmsvc:{"), std::string::npos) << keys;
  {
    // A certificate from a CA nobody trusts: the handshake fails and says so.
    Collector col;  // outlives the client, which completes the waiting request as it closes
    Client untrusted(config("rediss://:tls-pw-4321@" + at,
                            R"(,"tls_ca":")" + pki.path("other.crt") + "\"" + client_cert));
    untrusted.submit(prompt_request("waits"), col);
    ASSERT_TRUE(error_says(untrusted, "certificate is not trusted")) << text_of(untrusted);
    std::string text = text_of(untrusted);
    EXPECT_NE(text.find("TLS handshake with " + at), std::string::npos) << text;
    EXPECT_NE(text.find(R"("mode":"local_fallback")"), std::string::npos) << text;
    EXPECT_EQ(text.find("tls-pw-4321"), std::string::npos) << text;
  }
  {
    // The certificate is good but not for the name the client expects.
    Collector col;
    Client wrong_name(config("rediss://:tls-pw-4321@" + at,
                             trusted + R"(,"tls_server_name":"redis.elsewhere.example")"));
    wrong_name.submit(prompt_request("waits"), col);
    ASSERT_TRUE(error_says(wrong_name, "hostname mismatch")) << text_of(wrong_name);
  }
  {
    // No client certificate where the server requires one.
    Collector col;
    Client no_cert(config("rediss://:tls-pw-4321@" + at, R"(,"tls_ca":")" + pki.path("ca.crt") + "\""));
    no_cert.submit(prompt_request("waits"), col);
    ASSERT_TRUE(error_says(no_cert, "requires a client certificate")) << text_of(no_cert);
    EXPECT_EQ(col.size(), 0u);
  }
  {
    // A wrong password over TLS: named, never repeated.
    Collector col;
    Client wrong_pw(config("rediss://:not-the-pw-8765@" + at, trusted));
    wrong_pw.submit(prompt_request("waits"), col);
    ASSERT_TRUE(error_says(wrong_pw, "AUTH failed: WRONGPASS")) << text_of(wrong_pw);
    EXPECT_EQ(text_of(wrong_pw).find("not-the-pw-8765"), std::string::npos);
  }
  {
    // Plain text to the TLS port is not TLS: the client's own TLS to a plain port fails
    // clearly too.
    Collector col;
    Client plain(config("rediss://:tls-pw-4321@127.0.0.1:" + std::to_string(redis.port()), trusted));
    plain.submit(prompt_request("waits"), col);
    ASSERT_TRUE(error_says(plain, "is it a TLS port?")) << text_of(plain);
  }
}

TEST(SharedLimitsProduction, SentinelFailoverKeepsTheGroupWithinTheLimit) {
  RedisProcess master;
  RedisProcess replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  char tmpl[] = "/tmp/llmsvc-sentinel-XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "";
  ASSERT_FALSE(dir.empty());
  std::vector<std::unique_ptr<RedisProcess>> sentinels;
  std::string list;
  for (int i = 0; i < 3; ++i) {
    const std::string file = dir + "/sentinel" + std::to_string(i) + ".conf";
    std::ofstream(file) << "sentinel monitor budgets 127.0.0.1 " << master.port() << " 2\n"
                        << "sentinel down-after-milliseconds budgets 500\n"
                        << "sentinel failover-timeout budgets 3000\n"
                        << "sentinel parallel-syncs budgets 1\n";
    sentinels.push_back(std::make_unique<RedisProcess>(std::vector<std::string>{}, file, true));
    list += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(sentinels.back()->port());
  }
  // The sentinels know one another and the replica before the master goes.
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto ready = [&] {
    return sentinels[0]->command("SENTINEL ckquorum budgets").rfind("+OK", 0) == 0 &&
           sentinels[0]->command_all("SENTINEL replicas budgets").find(std::to_string(replica.port())) !=
               std::string::npos;
  };
  while (!ready() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(ready()) << sentinels[0]->command_all("SENTINEL ckquorum budgets");

  // 30 requests per 500 ms; three clients, a third each while alone.
  EmulatorProcess emu({"--rpm", "3600", "--window-ms", "500", "--latency-ms", "5"});
  const std::string config = emu.config(
      "sk-sentinel", R"("model":"gpt-4o-mini","limits":{"rpm":3600,"window_ms":500},)"
                     R"("shared_limits":{"redis":"sentinel://)" + list +
                         R"(/budgets","share":0.3333333333,"timeout_ms":1000})");
  Client a(config), b(config), c(config);
  std::vector<Client *> clients = {&a, &b, &c};
  Collector cols[3];
  const int per_client = 120;
  for (int i = 0; i < per_client; ++i)
    for (size_t k = 0; k < clients.size(); ++k)
      clients[k]->submit(prompt_request("s" + std::to_string(i)), cols[k]);
  auto completed = [&] { return cols[0].size() + cols[1].size() + cols[2].size(); };
  auto wait_size = [&](size_t n) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (completed() < n && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return completed() >= n;
  };
  ASSERT_TRUE(wait_size(45));
  for (Client *cl : clients) {
    rapidjson::Document m = cl->metrics();
    EXPECT_STREQ(m["shared_limits"]["mode"].GetString(), "shared") << to_json(m["shared_limits"]);
    EXPECT_NE(std::string(m["shared_limits"]["redis"].GetString()).find("master budgets via"),
              std::string::npos);
  }

  // The master dies; the sentinels promote the replica; the clients find it through them.
  // Its port stays taken (listening, never answering: a hung server), so that no Redis of
  // a test running beside this one starts there and is made a replica by the sentinels
  // when "the old master" comes back.
  master.kill_now();
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(taken, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // past TIME_WAIT
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(master.port()));
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0) << strerror(errno);
  ASSERT_EQ(listen(taken, 1024), 0);
  auto promoted = [&] {
    return sentinels[0]->command_all("SENTINEL get-master-addr-by-name budgets")
               .find(std::to_string(replica.port())) != std::string::npos;
  };
  end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!promoted() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(promoted()) << "no failover";
  for (Client *cl : clients)
    ASSERT_TRUE(cl->wait_metrics(
        [](const rapidjson::Document &m) {
          const rapidjson::Value &sl = m["shared_limits"];
          return std::string(sl["mode"].GetString()) == "shared" &&
                 (i64(sl, "rejoins") >= 1 || i64(sl, "reconnects") >= 1);
        },
        std::chrono::seconds(30)))
        << to_json(cl->metrics()["shared_limits"]);
  for (Collector &col : cols) {
    ASSERT_TRUE(col.wait_for(per_client, std::chrono::seconds(60)));
    EXPECT_TRUE(col.exactly_once());
    for (const Completed &r : col.results()) ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  }
  // The budget lives on in the new master, and nobody went over the limit.
  EXPECT_NE(replica.command_all("KEYS llmsvc:*").find("llmsvc:{"), std::string::npos);
  rapidjson::Document s = emu.stats("sk-sentinel");
  EXPECT_EQ(i64(s, "received"), int64_t(clients.size()) * per_client);
  EXPECT_EQ(i64(s, "rate_limited"), 0);
  EXPECT_LE(i64(s, "peak_window_requests"), 30);
  sentinels.clear();
  close(taken);
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}

TEST(SharedLimitsProduction, ClusterServesTheBudgetFromTheNodeOfItsSlot) {
  // Two masters splitting the slots; the client is pointed at the one that does not serve
  // its budget's slot.
  char tmpl[] = "/tmp/llmsvc-cluster-XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "";
  ASSERT_FALSE(dir.empty());
  auto node = [&](const char *name) {  // its bus listens on its port + 10000
    return std::make_unique<RedisProcess>(
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file",
                                 dir + "/nodes-" + name + ".conf", "--cluster-node-timeout", "2000"},
        "", false, RedisProcess::free_cluster_port());
  };
  std::unique_ptr<RedisProcess> a = node("a"), b = node("b");
  ASSERT_EQ(a->command("CLUSTER ADDSLOTSRANGE 0 8191"), "+OK");
  ASSERT_EQ(b->command("CLUSTER ADDSLOTSRANGE 8192 16383"), "+OK");
  ASSERT_EQ(a->command("CLUSTER MEET 127.0.0.1 " + std::to_string(b->port())), "+OK");
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto ok = [&] {
    return a->command_all("CLUSTER INFO").find("cluster_state:ok") != std::string::npos &&
           b->command_all("CLUSTER INFO").find("cluster_state:ok") != std::string::npos;
  };
  while (!ok() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(ok()) << a->command_all("CLUSTER INFO");
  // A budget whose slot is b's.
  std::string key;
  for (int i = 0; key.empty() && i < 100; ++i) {
    const std::string name = "team-" + std::to_string(i);
    if (std::atoi(a->command("CLUSTER KEYSLOT {" + name + "}").c_str() + 1) >= 8192) key = name;
  }
  ASSERT_FALSE(key.empty());

  EmulatorProcess emu;
  Client c(emu.config("sk-cluster", R"("model":"gpt-4o-mini","limits":{"rpm":600,"window_ms":1000},)"
                                    R"("shared_limits":{"redis":"redis://127.0.0.1:)" +
                                        std::to_string(a->port()) + R"(","key":")" + key + R"("})"));
  for (int i = 0; i < 3; ++i) {
    Completed r = c.generate(prompt_request("clustered " + std::to_string(i)));
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  }
  rapidjson::Document m = c.metrics();
  EXPECT_STREQ(m["shared_limits"]["mode"].GetString(), "shared") << to_json(m["shared_limits"]);
  EXPECT_EQ(i64(m["shared_limits"], "errors"), 0) << to_json(m["shared_limits"]);
  EXPECT_NE(b->command_all("KEYS *").find("llmsvc:{" + key + "}"), std::string::npos);
  EXPECT_EQ(a->command("DBSIZE"), ":0");
  a.reset();
  b.reset();
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}
