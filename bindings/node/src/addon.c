/*
 * addon.c - the native half of the Node.js binding: plain Node-API over libllmsvc 0.4 (the
 * vectors of embeddings results from 0.5, when both the headers and the library have them).
 *
 * Results. Requests are submitted without callbacks, so their pieces, completions and
 * lifecycle events all go to the client's batch callback, once per pass of the engine.
 * on_batch() queues the pass's results, non-blocking, to the client's one thread-safe
 * function: the engine never waits for JavaScript, and JavaScript is called once per pass.
 * call_js() reads them on the JavaScript thread with the typed getters into one
 * Float64Array and one array of strings ("Layout" below), frees them and calls the client's
 * sink once; lib/response.cjs reads the arrays back. No result document is parsed on the
 * way: each completion's document travels as a string, parsed only if asked for.
 *
 * Lifetimes. A client (box) is owned by its JavaScript handle, an external whose finalizer
 * destroys the core client, and by its thread-safe function; it is freed when both are gone.
 * The thread-safe function is released only after llmsvc_client_destroy returned, so no
 * engine thread calls it afterwards. While requests are pending or close() is under way the
 * thread-safe function is referenced (the event loop waits) and so is the sink, which holds
 * the JavaScript Client and its handle: a busy client is not collected, an idle one neither
 * keeps the process alive nor escapes collection.
 *
 * Environments. State is per environment (instance data), so the addon works in workers.
 * Each client's cleanup hook is added after its thread-safe function; hooks run in reverse
 * order, so the client is destroyed (its engine thread joined) before Node tears the
 * thread-safe function down.
 */
#include <llmsvc.h>
#include <node_api.h>

#if !LLMSVC_VERSION_CHECK(0, 4, 0)
#error "this binding needs libllmsvc 0.4 or later (typed results, batches, close_async, telemetry keys)"
#endif

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
  napi_ref status_error, push; /* StatusError (given by init()), Array.prototype.push */
  napi_ref nums_ref;           /* the Float64Array batches are written into, reused */
  double *nums;
  size_t nums_cap;
  char *text;                  /* strings from JavaScript are copied here for the core */
  size_t text_cap;
  int64_t pending_entries, live_clients, boxes; /* stats() */
  bool embeddings;             /* the library reads embeddings (0.5) */
} state;

typedef struct box {
  state *st;
  napi_env env;
  llmsvc_client *client; /* NULL once destroyed */
  napi_threadsafe_function tsfn;
  napi_ref sink;         /* the function batches go to; strong only while held */
  napi_deferred closing; /* close()'s promise, until the last completion was delivered */
  uint32_t pending;      /* submitted, completion not delivered yet */
  bool closed, held, tsfn_released, tsfn_alive, handle_alive, hook;
} box;

/*
 * The numbers, strings and attempt numbers of a result this binding reads (lib/response.cjs
 * has the same counts): fixed here rather than the header's LLMSVC_NUM_COUNT,
 * LLMSVC_STR_COUNT and LLMSVC_ATTEMPT_COUNT, which grow with the library while the
 * JavaScript side does not. Those of 0.4: the provider, the server's address and port and
 * the gate waits; of 0.5 the number of embedding vectors, the last one. An older library at
 * run time fills fewer: the rest read as unknown (NaN) and absent strings.
 */
#define RESULT_NUMS 22
#define NUM_EMBEDDINGS 21 /* LLMSVC_NUM_EMBEDDINGS, which 0.4's header lacks */
#define RESULT_STRS 17
#define ATTEMPT_NUMS 11

/* One engine pass: n results, then the payload of each. */
typedef struct batch {
  size_t n;
  void *slots[];
} batch;

static batch closed_note; /* queued after the last completion of a closed client */

/*
 * Layout of a batch, record after record, in `nums` (Float64Array) and `strs` (strings);
 * `slot` is the number the request was submitted with (its payload):
 *   event:      nums [2, generation]                        strs [document]
 *   piece:      nums [1, slot, piece kind, call index]      strs [text, + call id and name
 *                                                            for LLMSVC_PIECE_TOOL_CALL]
 *   completion: nums [0, slot, id, RESULT_NUMS numbers (NaN: unknown), string mask]
 *               strs [document, then each string key whose mask bit is set, in order]
 *     then per attempt: nums [ATTEMPT_NUMS numbers, bits: 1 request id, 2 deployment]
 *                       strs [those present]
 *     then per choice:  nums [tool calls]  strs [text and finish reason when there are
 *                       several choices, then each call's id, name and arguments]
 *     then, of a successful embeddings result (its number of vectors, NaN for others):
 *                       strs [a Float32Array per vector, copied out of the result]
 */
enum { REC_COMPLETION = 0, REC_PIECE = 1, REC_EVENT = 2 };

#define CHECK(call)                     \
  do {                                  \
    if ((call) != napi_ok) return NULL; \
  } while (0)

static state *get_state(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (state *)data;
}

static napi_value undefined(napi_env env) {
  napi_value v = NULL;
  napi_get_undefined(env, &v);
  return v;
}

/* Throws StatusError(op, status, message), or a plain Error before init() ran. */
static napi_value throw_status(napi_env env, const char *op, int status, const char *message) {
  state *st = get_state(env);
  napi_value ctor = NULL, err = NULL, argv[3];
  if (!message || !*message) message = llmsvc_strerror(status);
  if (st->status_error && napi_get_reference_value(env, st->status_error, &ctor) == napi_ok &&
      napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &argv[0]) == napi_ok &&
      napi_create_int32(env, status, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[2]) == napi_ok &&
      napi_new_instance(env, ctor, 3, argv, &err) == napi_ok)
    napi_throw(env, err);
  else
    napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value throw_from(napi_env env, const char *op, int status, llmsvc_error *err) {
  throw_status(env, op, status, llmsvc_error_message(err));
  llmsvc_error_free(err);
  return NULL;
}

/* The first `want` arguments; false (with an exception pending) when fewer came. */
static bool get_args(napi_env env, napi_callback_info info, napi_value *argv, size_t want,
                     const char *op) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) throw_status(env, op, LLMSVC_EINVAL, "too few arguments");
  return argc >= want;
}

/* The same, the first a client handle: its box, or NULL with an exception pending. */
static box *handle_args(napi_env env, napi_callback_info info, napi_value *argv, size_t want,
                        const char *op) {
  void *p = NULL;
  napi_valuetype t;
  if (!get_args(env, info, argv, want, op)) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not an llmsvc client handle");
    return NULL;
  }
  return (box *)p;
}

/* A JavaScript string copied (NUL-terminated) into the state's buffer, for the core. */
static const char *text_arg(napi_env env, napi_value v, const char *op, const char *what) {
  state *st = get_state(env);
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  if (len >= st->text_cap) {
    char *p = realloc(st->text, len + 4096);
    if (!p) {
      throw_status(env, op, LLMSVC_ENOMEM, "no memory to copy a document");
      return NULL;
    }
    st->text = p;
    st->text_cap = len + 4096;
  }
  if (napi_get_value_string_utf8(env, v, st->text, st->text_cap, &len) != napi_ok) return NULL;
  return st->text;
}

/* ---- lifetime -------------------------------------------------------------------- */

/* Holds the event loop and the sink while the client is busy; releases both when idle. */
static void update_hold(napi_env env, box *b) {
  bool busy = b->pending > 0 || b->closing;
  if (busy == b->held || b->tsfn_released) return;
  b->held = busy;
  if (busy) {
    napi_ref_threadsafe_function(env, b->tsfn);
    if (b->sink) napi_reference_ref(env, b->sink, NULL);
  } else {
    napi_unref_threadsafe_function(env, b->tsfn);
    if (b->sink) napi_reference_unref(env, b->sink, NULL);
  }
}

static void maybe_free(box *b) {
  if (b->handle_alive || b->tsfn_alive) return;
  b->st->boxes--;
  free(b);
}

static void env_cleanup(void *arg);

/* Destroys the core client, then releases the thread-safe function; `abort` while the
 * environment is torn down: queued batches are then freed without JavaScript. */
static void box_shutdown(box *b, bool abort) {
  if (b->client) {
    llmsvc_client_destroy(b->client); /* every callback has run when this returns */
    b->client = NULL;
    b->closed = true;
    b->st->live_clients--;
  }
  if (!b->tsfn_released) {
    b->tsfn_released = true;
    napi_release_threadsafe_function(b->tsfn, abort ? napi_tsfn_abort : napi_tsfn_release);
  }
  if (b->hook && !abort) napi_remove_env_cleanup_hook(b->env, env_cleanup, b);
  b->hook = false;
}

static void env_cleanup(void *arg) { box_shutdown((box *)arg, true); }

/* The JavaScript handle was collected (or the environment is going away). */
static void handle_finalize(napi_env env, void *data, void *hint) {
  box *b = (box *)data;
  (void)hint;
  b->handle_alive = false;
  box_shutdown(b, false);
  if (b->sink) napi_delete_reference(env, b->sink);
  b->sink = NULL;
  maybe_free(b);
}

/* The thread-safe function was released and its queue emptied. */
static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ((box *)data)->tsfn_alive = false;
  maybe_free((box *)data);
}

/* ---- batches --------------------------------------------------------------------- */

/* Engine thread: one pass's results, queued to JavaScript in one message. Never blocks. */
static void on_batch(llmsvc_result **results, void **payloads, size_t n, void *user) {
  batch *m = (batch *)malloc(sizeof *m + 2 * n * sizeof(void *));
  if (m) {
    m->n = n;
    memcpy(m->slots, results, n * sizeof(void *));
    memcpy(m->slots + n, payloads, n * sizeof(void *));
    if (napi_call_threadsafe_function(((box *)user)->tsfn, m, napi_tsfn_nonblocking) == napi_ok)
      return;
    free(m); /* the environment is being torn down: nothing is left to settle */
  }
  /* (Out of memory: these requests never settle.) */
  for (size_t i = 0; i < n; i++) llmsvc_result_free(results[i]);
}

/* Engine thread (or the closing one): every completion was delivered. */
static void on_closed(void *payload) {
  napi_call_threadsafe_function(((box *)payload)->tsfn, &closed_note, napi_tsfn_nonblocking);
}

/* Strings go into a batch's array GROUP at a time, with one call of Array.prototype.push:
 * far cheaper than a Node-API property set each. */
#define GROUP 64

typedef struct writer {
  napi_env env;
  napi_value strs, push, group[GROUP];
  size_t ng, nn;
  double *nums;
  bool embeddings; /* the library has llmsvc_result_embedding */
} writer;

static void num(writer *w, int64_t v) { w->nums[w->nn++] = v == LLMSVC_UNKNOWN ? NAN : (double)v; }

static void flush(writer *w) {
  if (w->ng) napi_call_function(w->env, w->strs, w->push, w->ng, w->group, NULL);
  w->ng = 0;
}

/* A string V8 cannot make (too long) is left undefined, so that the layout holds. */
static void str(writer *w, const char *s, size_t len) {
  if (napi_create_string_utf8(w->env, s ? s : "", len, &w->group[w->ng]) != napi_ok) {
    napi_get_and_clear_last_exception(w->env, &w->group[w->ng]);
    napi_get_undefined(w->env, &w->group[w->ng]);
  }
  if (++w->ng == GROUP) flush(w);
}

static void cstr(writer *w, const char *s) { str(w, s, s ? strlen(s) : 0); }

/* A value other than a string, in the same array (NULL: undefined, to hold the layout). */
static void val(writer *w, napi_value v) {
  if (!v) napi_get_undefined(w->env, &v);
  w->group[w->ng] = v;
  if (++w->ng == GROUP) flush(w);
}

/* The `n` vectors of an embeddings result, each copied into a Float32Array of its own. */
static void write_embeddings(writer *w, llmsvc_result *r, size_t n) {
#if LLMSVC_VERSION_CHECK(0, 5, 0)
  for (size_t i = 0; i < n; i++) {
    size_t dims = 0;
    const float *f = llmsvc_result_embedding(r, i, &dims);
    void *data = NULL;
    napi_value ab = NULL, ta = NULL;
    if (!f) dims = 0;
    if (napi_create_arraybuffer(w->env, dims * sizeof(float), &data, &ab) != napi_ok ||
        napi_create_typedarray(w->env, napi_float32_array, dims, ab, 0, &ta) != napi_ok) {
      napi_get_and_clear_last_exception(w->env, &ab);
      ta = NULL;
    } else if (dims) {
      memcpy(data, f, dims * sizeof(float));
    }
    val(w, ta);
  }
#else
  (void)r;
  for (size_t i = 0; i < n; i++) val(w, NULL);
#endif
}

/* Numbers a result takes at most, to size the array before writing. */
static size_t bound(llmsvc_result *r) {
  if (llmsvc_result_type(r) != LLMSVC_RESULT_COMPLETION) return 4;
  return 4 + RESULT_NUMS + (size_t)llmsvc_result_number(r, LLMSVC_NUM_CHOICES) +
         (size_t)llmsvc_result_number(r, LLMSVC_NUM_ATTEMPTS) * (ATTEMPT_NUMS + 1);
}

static void write_completion(writer *w, llmsvc_result *r) {
  int64_t v[RESULT_NUMS], a[ATTEMPT_NUMS];
  size_t len = 0, calls = 0;
  llmsvc_result_numbers(r, v, RESULT_NUMS); /* keys the library lacks read as unknown */
  if (!w->embeddings || v[LLMSVC_NUM_KIND] != LLMSVC_KIND_NONE || v[NUM_EMBEDDINGS] <= 0)
    v[NUM_EMBEDDINGS] = LLMSVC_UNKNOWN; /* no vectors follow */
  for (int k = 0; k < RESULT_NUMS; k++) num(w, v[k]);
  const char *text = llmsvc_result_json(r, &len), *finish = "", *id = "", *name = "", *args = "";
  const char *request_id = "", *deployment = "";
  str(w, text, len);
  size_t at = w->nn++;
  uint32_t mask = 0;
  for (int k = 0; k < RESULT_STRS; k++) {
    len = 0; /* left as is for a key the library lacks */
    text = llmsvc_result_string(r, k, &len);
    if (!text || !len || (k == LLMSVC_STR_ERROR_KIND && v[LLMSVC_NUM_KIND] == LLMSVC_KIND_NONE))
      continue;
    mask |= 1u << k;
    str(w, text, len);
  }
  w->nums[at] = mask;
  for (size_t i = 0; i < (size_t)v[LLMSVC_NUM_ATTEMPTS]; i++) {
    for (size_t k = llmsvc_result_attempt(r, i, a, ATTEMPT_NUMS, &request_id, &deployment);
         k < ATTEMPT_NUMS; k++)
      a[k] = LLMSVC_UNKNOWN;
    for (int k = 0; k < ATTEMPT_NUMS; k++) num(w, a[k]);
    num(w, (*request_id ? 1 : 0) | (*deployment ? 2 : 0));
    if (*request_id) cstr(w, request_id);
    if (*deployment) cstr(w, deployment);
  }
  size_t choices = v[LLMSVC_NUM_CHOICES] > 0 ? (size_t)v[LLMSVC_NUM_CHOICES] : 0;
  for (size_t c = 0; c < choices; c++) {
    llmsvc_result_choice(r, c, &text, &len, &finish, &calls);
    num(w, (int64_t)calls);
    if (choices > 1) {
      str(w, text, len);
      cstr(w, finish);
    }
    for (size_t j = 0; j < calls; j++) {
      llmsvc_result_choice_tool_call(r, c, j, &id, &name, &args);
      cstr(w, id);
      cstr(w, name);
      cstr(w, args);
    }
  }
  if (v[NUM_EMBEDDINGS] != LLMSVC_UNKNOWN) write_embeddings(w, r, (size_t)v[NUM_EMBEDDINGS]);
}

static void write_result(writer *w, llmsvc_result *r, void *payload) {
  int type = llmsvc_result_type(r), kind = LLMSVC_PIECE_TEXT;
  uint32_t index = 0;
  size_t len = 0;
  const char *call_id = "", *name = "", *text;
  num(w, type == LLMSVC_RESULT_EVENT ? REC_EVENT : type == LLMSVC_RESULT_DELTA ? REC_PIECE
                                                                             : REC_COMPLETION);
  num(w, (int64_t)(uintptr_t)payload); /* an event's generation, a request's slot */
  if (type == LLMSVC_RESULT_EVENT) {
    text = llmsvc_result_json(r, &len);
    str(w, text, len);
    return;
  }
  if (type != LLMSVC_RESULT_DELTA) {
    num(w, (int64_t)llmsvc_result_id(r));
    write_completion(w, r);
    return;
  }
  llmsvc_result_piece(r, &kind, &index, &call_id, &name);
  text = llmsvc_result_string(r, LLMSVC_STR_TEXT, &len);
  num(w, kind);
  num(w, index);
  str(w, text, len);
  if (kind == LLMSVC_PIECE_TOOL_CALL) {
    cstr(w, call_id);
    cstr(w, name);
  }
}

/* The state's Float64Array with room for `need` numbers; NULL when there is no memory.
 * One far larger than usual (a close with thousands pending) is not kept. */
static napi_value numbers(napi_env env, state *st, size_t need) {
  napi_value ab = NULL, ta = NULL;
  if (need <= st->nums_cap && st->nums_cap <= 65536)
    return napi_get_reference_value(env, st->nums_ref, &ta) == napi_ok ? ta : NULL;
  if (st->nums_ref) napi_delete_reference(env, st->nums_ref);
  st->nums_ref = NULL;
  st->nums_cap = 0;
  need = need < 4096 ? 4096 : need;
  if (napi_create_arraybuffer(env, need * sizeof(double), (void **)&st->nums, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, need, ab, 0, &ta) != napi_ok ||
      napi_create_reference(env, ta, 1, &st->nums_ref) != napi_ok)
    return NULL;
  st->nums_cap = need;
  return ta;
}

/* JavaScript thread: a batch to the sink as sink(nums, strs, records), or as
 * sink(null, null, 0) when there was no memory to write it (the client then rejects what is
 * pending). The closed note resolves close()'s promise. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  box *b = (box *)context;
  batch *m = (batch *)data;
  napi_value sink = NULL, ignored = NULL, argv[3] = {NULL, NULL, NULL};
  size_t need = 0, done = 0;
  (void)js_cb;
  if (m == &closed_note) {
    if (!env || !b->closing) return;
    napi_resolve_deferred(env, b->closing, undefined(env));
    b->closing = NULL;
    update_hold(env, b);
    return;
  }
  for (size_t i = 0; i < m->n; i++) {
    need += bound((llmsvc_result *)m->slots[i]);
    done += llmsvc_result_type((llmsvc_result *)m->slots[i]) == LLMSVC_RESULT_COMPLETION;
  }
  if (env && b->sink && napi_get_reference_value(env, b->sink, &sink) == napi_ok && sink) {
    writer w = {.env = env, .embeddings = b->st->embeddings};
    bool written = (argv[0] = numbers(env, b->st, need)) != NULL &&
                   napi_create_array(env, &w.strs) == napi_ok &&
                   napi_get_reference_value(env, b->st->push, &w.push) == napi_ok;
    if (written) {
      w.nums = b->st->nums;
      for (size_t i = 0; i < m->n; i++)
        write_result(&w, (llmsvc_result *)m->slots[i], m->slots[m->n + i]);
      flush(&w);
      argv[1] = w.strs;
    } else {
      napi_get_null(env, &argv[0]);
      napi_get_null(env, &argv[1]);
    }
    napi_create_uint32(env, written ? (uint32_t)m->n : 0, &argv[2]);
    /* The sink catches what listeners throw; nothing may escape into the event loop. */
    if (napi_call_function(env, undefined(env), sink, 3, argv, NULL) != napi_ok)
      napi_get_and_clear_last_exception(env, &ignored);
  }
  for (size_t i = 0; i < m->n; i++) llmsvc_result_free((llmsvc_result *)m->slots[i]);
  free(m);
  if (!env) return; /* teardown: the state may be gone already */
  b->pending -= (uint32_t)done;
  b->st->pending_entries -= (int64_t)done;
  update_hold(env, b);
}

/* ---- exported functions ---------------------------------------------------------- */

/* init(StatusError) -> libllmsvc's runtime version. StatusError: the class synchronous
 * failures are thrown as. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  state *st = get_state(env);
  napi_value argv[1], array = NULL, proto = NULL, push = NULL;
  if (!get_args(env, info, argv, 1, "init")) return NULL;
  if (st->status_error) napi_delete_reference(env, st->status_error);
  st->status_error = NULL;
  CHECK(napi_create_reference(env, argv[0], 1, &st->status_error));
  CHECK(napi_create_array(env, &array));
  CHECK(napi_get_prototype(env, array, &proto));
  CHECK(napi_get_named_property(env, proto, "push", &push));
  if (!st->push) CHECK(napi_create_reference(env, push, 1, &st->push));
  CHECK(napi_create_string_utf8(env, llmsvc_version(), NAPI_AUTO_LENGTH, &push));
  return push;
}

/* open(configJson, sink) -> handle: a client whose batches go to sink (held weakly). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  state *st = get_state(env);
  napi_value argv[2], handle = NULL, name = NULL;
  llmsvc_error *err = NULL;
  if (!get_args(env, info, argv, 2, "new")) return NULL;
  const char *config = text_arg(env, argv[0], "new", "config must be a string");
  box *b = config ? (box *)calloc(1, sizeof *b) : NULL;
  if (!b) return config ? throw_status(env, "new", LLMSVC_ENOMEM, "no memory for a client") : NULL;
  *b = (box){.st = st, .env = env};
  if (napi_create_string_utf8(env, "llmsvc.results", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, b, tsfn_finalize, b, call_js,
                                      &b->tsfn) != napi_ok) {
    free(b);
    return throw_status(env, "new", LLMSVC_ESYSTEM, "could not create a thread-safe function");
  }
  st->boxes++;
  b->tsfn_alive = true;
  napi_unref_threadsafe_function(env, b->tsfn); /* idle: do not hold the process open */
  int rc = llmsvc_client_new(&b->client, config, &err);
  if (rc == LLMSVC_OK) {
    st->live_clients++;
    rc = llmsvc_client_set_batch_callback(b->client, on_batch, b);
  }
  if (rc != LLMSVC_OK || napi_create_reference(env, argv[1], 0, &b->sink) != napi_ok ||
      napi_create_external(env, b, handle_finalize, NULL, &handle) != napi_ok) {
    box_shutdown(b, false); /* the thread-safe function's finalizer frees the box */
    if (b->sink) napi_delete_reference(env, b->sink);
    b->sink = NULL;
    if (err) return throw_from(env, "new", rc, err);
    return throw_status(env, "new", rc ? rc : LLMSVC_ESYSTEM, "could not set the client up");
  }
  b->handle_alive = true;
  /* After the thread-safe function, so that this hook runs before Node's own for it. */
  b->hook = napi_add_env_cleanup_hook(env, env_cleanup, b) == napi_ok;
  return handle;
}

/* submit(handle, requestJson, mode, slot) -> id; mode 0: one result, 1: text pieces before
 * it, 2: typed pieces before it. Its records in the batches carry `slot`. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  napi_value argv[4], v = NULL;
  uint32_t mode = 0, slot = 0;
  uint64_t id = 0;
  llmsvc_error *err = NULL;
  box *b = handle_args(env, info, argv, 4, "submit");
  if (!b) return NULL;
  if (b->closed) return throw_status(env, "submit", LLMSVC_ECLOSED, "the client is closed");
  const char *req = text_arg(env, argv[1], "submit", "request must be a string");
  if (!req || napi_get_value_uint32(env, argv[2], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &slot) != napi_ok)
    return NULL;
  void *p = (void *)(uintptr_t)slot;
  int rc = mode == 0   ? llmsvc_client_submit(b->client, req, NULL, p, &id, &err)
           : mode == 1 ? llmsvc_client_submit_stream(b->client, req, NULL, NULL, p, &id, &err)
                       : llmsvc_client_submit_stream_pieces(b->client, req, NULL, NULL, p, &id,
                                                            &err);
  if (rc != LLMSVC_OK) return throw_from(env, "submit", rc, err);
  b->pending++;
  b->st->pending_entries++;
  update_hold(env, b);
  CHECK(napi_create_double(env, (double)id, &v));
  return v;
}

/* cancel(handle, id): returns at once; the completion (cancelled) follows in a batch,
 * unless the request had completed already. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double id = 0;
  box *b = handle_args(env, info, argv, 2, "cancel");
  if (!b) return NULL;
  CHECK(napi_get_value_double(env, argv[1], &id));
  if (b->client && id >= 1) llmsvc_client_cancel_async(b->client, (uint64_t)id);
  return undefined(env);
}

/* close(handle) -> Promise<void>: new work is refused at once, pending requests complete
 * with shut_down, and the promise resolves once the last completion was delivered. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise = NULL;
  napi_deferred d = NULL;
  box *b = handle_args(env, info, argv, 1, "close");
  if (!b) return NULL;
  CHECK(napi_create_promise(env, &d, &promise));
  int rc = b->closed ? LLMSVC_OK : llmsvc_client_close_async(b->client, on_closed, b);
  if (b->closed || rc != LLMSVC_OK) {
    napi_resolve_deferred(env, d, undefined(env));
    return rc == LLMSVC_OK ? promise : throw_status(env, "close", rc, NULL);
  }
  b->closed = true;
  b->closing = d; /* the closed note comes through the queue, after this returns */
  update_hold(env, b);
  return promise;
}

/* setEventHook(handle, events, flags, generation): events of the LLMSVC_EVENT_* bits come
 * in the batches, tagged with `generation`; events 0 turns them off. */
static napi_value js_set_event_hook(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint32_t events = 0, flags = 0, gen = 0;
  llmsvc_error *err = NULL;
  box *b = handle_args(env, info, argv, 4, "setEventHook");
  if (!b) return NULL;
  if (napi_get_value_uint32(env, argv[1], &events) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &flags) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &gen) != napi_ok) {
    napi_throw_type_error(env, NULL, "events, flags and generation must be numbers");
    return NULL;
  }
  if (b->closed && events) return throw_status(env, "setEventHook", LLMSVC_ECLOSED, NULL);
  int rc = b->closed ? LLMSVC_OK  /* off: nothing is built any more anyway */
                     : llmsvc_client_set_event_hook(b->client, events, flags, NULL,
                                                    (void *)(uintptr_t)gen, &err);
  return rc == LLMSVC_OK ? undefined(env) : throw_from(env, "setEventHook", rc, err);
}

/* The calls that take a document or give one back, told apart by their function's data. */
typedef struct doc_call {
  const char *op;
  int (*get)(llmsvc_client *, char **, llmsvc_error **);      /* (handle) -> text */
  int (*set)(llmsvc_client *, const char *, llmsvc_error **); /* (handle, json) */
} doc_call;

static const doc_call doc_calls[] = {
    {"metrics", llmsvc_client_metrics, NULL},
    {"metricsPrometheus", llmsvc_client_metrics_prometheus, NULL},
    {"setLimits", NULL, llmsvc_client_set_limits},
    {"setDeployment", NULL, llmsvc_client_set_deployment},
};

static napi_value js_doc_call(napi_env env, napi_callback_info info) {
  napi_value argv[2], v = NULL;
  void *data = NULL;
  char *text = NULL;
  llmsvc_error *err = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, NULL, &data) != napi_ok) return NULL;
  const doc_call *c = (const doc_call *)data;
  box *b = handle_args(env, info, argv, c->set ? 2 : 1, c->op);
  if (!b) return NULL;
  if (!b->client) return throw_status(env, c->op, LLMSVC_ECLOSED, "the client was destroyed");
  const char *doc = c->set ? text_arg(env, argv[1], c->op, "the document must be a string") : "";
  if (!doc) return NULL;
  int rc = c->set ? c->set(b->client, doc, &err) : c->get(b->client, &text, &err);
  if (rc != LLMSVC_OK) return throw_from(env, c->op, rc, err);
  if (!c->get) return undefined(env);
  napi_status s = napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  llmsvc_free(text);
  return s == napi_ok ? v : NULL;
}

/* The array [a, b] of two strings (NULL when one could not be made). */
static napi_value pair(napi_env env, napi_value a, napi_value b) {
  napi_value out = NULL;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, a));
  CHECK(napi_set_element(env, out, 1, b));
  return out;
}

/* stats() -> Float64Array [pendingEntries, liveClients, nativeClients] of this environment */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  state *st = get_state(env);
  napi_value ab = NULL, out = NULL;
  double *v = NULL;
  (void)info;
  CHECK(napi_create_arraybuffer(env, 3 * sizeof(double), (void **)&v, &ab));
  CHECK(napi_create_typedarray(env, napi_float64_array, 3, ab, 0, &out));
  v[0] = (double)st->pending_entries;
  v[1] = (double)st->live_clients;
  v[2] = (double)st->boxes;
  return out;
}

/* loadConfig(path) -> [configJson, warningsJson]: a configuration file as the core reads it */
static napi_value js_load_config(napi_env env, napi_callback_info info) {
  napi_value argv[1], c = NULL, w = NULL;
  char *config = NULL, *warnings = NULL;
  llmsvc_error *err = NULL;
  if (!get_args(env, info, argv, 1, "new")) return NULL;
  const char *path = text_arg(env, argv[0], "new", "path must be a string");
  if (!path) return NULL;
  int rc = llmsvc_config_load(path, &config, &warnings, &err);
  if (rc != LLMSVC_OK) return throw_from(env, "new", rc, err);
  bool ok = napi_create_string_utf8(env, config, NAPI_AUTO_LENGTH, &c) == napi_ok &&
            napi_create_string_utf8(env, warnings, NAPI_AUTO_LENGTH, &w) == napi_ok;
  llmsvc_free(config);
  llmsvc_free(warnings);
  return ok ? pair(env, c, w) : NULL;
}

static void state_finalize(napi_env env, void *data, void *hint) {
  state *st = (state *)data;
  (void)hint;
  if (st->status_error) napi_delete_reference(env, st->status_error);
  if (st->push) napi_delete_reference(env, st->push);
  if (st->nums_ref) napi_delete_reference(env, st->nums_ref);
  free(st->text);
  free(st);
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"init", js_init},     {"open", js_open},   {"submit", js_submit},
      {"cancel", js_cancel}, {"close", js_close}, {"setEventHook", js_set_event_hook},
      {"stats", js_stats},   {"loadConfig", js_load_config},
  };
  state *st = (state *)calloc(1, sizeof *st);
  if (!st || napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, NULL, "llmsvc: out of memory loading the addon");
    return NULL;
  }
  st->embeddings = LLMSVC_VERSION_CHECK(0, 5, 0) && llmsvc_version_number() >= 500;
  napi_value f = NULL;
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  for (size_t i = 0; i < sizeof doc_calls / sizeof doc_calls[0]; i++) {
    const doc_call *c = &doc_calls[i];
    CHECK(napi_create_function(env, c->op, NAPI_AUTO_LENGTH, js_doc_call, (void *)c, &f));
    CHECK(napi_set_named_property(env, exports, c->op, f));
  }
  return exports;
}
