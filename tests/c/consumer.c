/* A plain C99 program using the installed library through pkg-config: starts the
 * emulator given as argv[1], sends requests through both completion modes, and checks
 * the results. Exit status 0 when everything held. */
#define _POSIX_C_SOURCE 200809L
#include <llmsvc.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                      \
    }                                                                  \
  } while (0)

static pid_t start_emulator(const char *path, int *port) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(path, path, "--host", "127.0.0.1", "--port", "0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[128] = {0};
  if (!f || !fgets(line, sizeof line, f)) return -1;
  fclose(f);
  const char *colon = strrchr(line, ':');
  *port = colon ? atoi(colon + 1) : 0;
  return pid;
}

struct counter {
  int calls;
  int ok;
  int done_fd; /* one byte per completion: the main thread waits on the other end */
};

static void on_done(llmsvc_result *r, void *payload) {
  struct counter *c = payload;
  c->calls++;
  if (llmsvc_result_kind(r) == LLMSVC_KIND_NONE) c->ok++;
  llmsvc_result_free(r);
  if (write(c->done_fd, "x", 1) != 1) abort();
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-TO-llmsvc-emulator\n", argv[0]);
    return 2;
  }
  CHECK(LLMSVC_VERSION_CHECK(0, 1, 0));
  CHECK(strcmp(llmsvc_version(), LLMSVC_VERSION_STRING) == 0);

  int port = 0;
  pid_t emu = start_emulator(argv[1], &port);
  if (emu <= 0 || port <= 0) {
    fprintf(stderr, "could not start the emulator\n");
    return 1;
  }
  char config[256];
  snprintf(config, sizeof config,
           "{\"base_url\":\"http://127.0.0.1:%d/v1\",\"api_key\":\"sk-c\",\"model\":\"gpt-4o-mini\"}",
           port);
  llmsvc_client *client = NULL;
  llmsvc_error *err = NULL;
  int rc = llmsvc_client_new(&client, config, &err);
  CHECK(rc == LLMSVC_OK);
  if (rc != LLMSVC_OK) {
    fprintf(stderr, "client_new: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    kill(emu, SIGTERM);
    return 1;
  }

  /* Blocking. */
  llmsvc_result *res = NULL;
  CHECK(llmsvc_client_generate(client, "{\"prompt\":\"hello from C\"}", &res, NULL) == LLMSVC_OK);
  CHECK(llmsvc_result_kind(res) == LLMSVC_KIND_NONE);
  CHECK(llmsvc_result_text(res) != NULL && strlen(llmsvc_result_text(res)) > 0);
  size_t len = 0;
  const char *json = llmsvc_result_json(res, &len);
  CHECK(json != NULL && len > 0 && strstr(json, "\"cost_nano_usd\"") != NULL);
  llmsvc_result_free(res);

  /* Callbacks. */
  int done_pipe[2];
  if (pipe(done_pipe) != 0) return 1;
  struct counter count = {0, 0, done_pipe[1]};
  for (int i = 0; i < 10; ++i)
    CHECK(llmsvc_client_submit(client, "{\"prompt\":\"callback\"}", on_done, &count, NULL, NULL) ==
          LLMSVC_OK);

  /* Completion queue. */
  for (int i = 0; i < 10; ++i)
    CHECK(llmsvc_client_submit(client, "{\"prompt\":\"queue\"}", NULL, NULL, NULL, NULL) == LLMSVC_OK);
  int polled = 0;
  while (polled < 10) {
    res = NULL;
    if (llmsvc_client_poll(client, 10000, &res, NULL) != LLMSVC_OK) break;
    CHECK(llmsvc_result_kind(res) == LLMSVC_KIND_NONE);
    llmsvc_result_free(res);
    ++polled;
  }
  CHECK(polled == 10);

  /* Misuse is a status, not a crash. */
  CHECK(llmsvc_client_submit(client, "{\"prompt\":", NULL, NULL, NULL, &err) == LLMSVC_EJSON);
  CHECK(strlen(llmsvc_error_message(err)) > 0);
  llmsvc_error_free(err);

  char *metrics = NULL;
  CHECK(llmsvc_client_metrics(client, &metrics, NULL) == LLMSVC_OK);
  CHECK(metrics != NULL && strstr(metrics, "\"usage\"") != NULL);
  llmsvc_free(metrics);

  /* Every callback has run (the pipe orders its writes before these reads). */
  for (int got = 0; got < 10;) {
    char buf[10];
    ssize_t n = read(done_pipe[0], buf, sizeof buf - (size_t)got);
    if (n <= 0) break;
    got += (int)n;
  }
  CHECK(count.calls == 10 && count.ok == 10);
  CHECK(llmsvc_client_destroy(client) == LLMSVC_OK);

  kill(emu, SIGTERM);
  waitpid(emu, NULL, 0);
  printf("C consumer: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
