/*
 * addon.c - the native half of the Node.js binding: plain Node-API over libllmsvc.
 *
 * Threads. Completions arrive on the client's engine thread. on_complete() only copies the
 * result document out, frees the llmsvc_result and queues the copy to the client's one
 * thread-safe function in non-blocking mode; the engine thread never waits on JavaScript.
 * call_js() runs on the JavaScript thread and is the only place a request's promise is
 * settled.
 *
 * Streams. A streamed request's text pieces take the same road: on_delta() copies the piece
 * into a message of its own and queues it to the same thread-safe function, in the same
 * non-blocking mode, so the engine never waits for JavaScript however slowly the pieces are
 * consumed (they wait in the JavaScript stream's buffer). The engine calls a request's
 * delta callbacks before its completion callback, on one thread, and the queue is FIFO, so
 * every piece reaches JavaScript before the completion that frees the entry. Typed pieces
 * (text, a tool call's start, a piece of its arguments: llmsvc_client_submit_stream_pieces)
 * travel the same way, with their kind, call index, and the call's id and name.
 *
 * Events. The lifecycle event hook takes the same road too: on_event() copies the event
 * document into a message and queues it, non-blocking, to the same thread-safe function.
 * The engine delivers a request's events before its completion, so they reach JavaScript
 * first. Each setEventHook() gives the core a new event_hook with a new generation; a
 * message of an earlier generation (queued before the hook was replaced or turned off) is
 * dropped on the JavaScript thread. JavaScript never runs on the engine thread and the
 * core's call is synchronous, so the replaced event_hook is freed as soon as it returns.
 *
 * Lifetimes. A client (struct box) is owned by two things: its JavaScript handle (an
 * external, whose finalizer runs when the handle is garbage collected) and its thread-safe
 * function (whose finalizer runs once it is released and its queue is drained). The box is
 * freed when both are gone. Invariant: the thread-safe function is released only after
 * llmsvc_client_close or llmsvc_client_destroy returned, so no engine thread can call it
 * afterwards.
 *
 * Keeping the process alive. While a client has requests pending its thread-safe function
 * is referenced (the event loop waits for the completions) and so is its handle (the client
 * cannot be collected under its own requests). With nothing pending both are released: an
 * idle client neither holds the process open nor escapes garbage collection.
 *
 * Environments. All per-environment state is instance data, so the addon works in worker
 * threads. Each client registers an environment cleanup hook after creating its thread-safe
 * function; hooks run in reverse order, so it destroys the client (joining its engine
 * thread) before Node tears the thread-safe function down.
 */
#include <llmsvc.h>
#include <node_api.h>

#if !LLMSVC_VERSION_CHECK(0, 2, 0)
#error "this binding needs libllmsvc 0.2 or later (typed stream pieces)"
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
  napi_ref status_error_ctor; /* the JavaScript StatusError class, set by init() */
  char *scratch;              /* request documents are copied here before submit */
  size_t scratch_cap;
  int64_t pending_entries; /* submitted, promise not yet settled: all clients */
  int64_t live_clients;    /* created and not yet destroyed */
  int64_t boxes;           /* native client records not yet freed */
} state;

typedef struct event_hook event_hook;

typedef struct box {
  state *st;
  napi_env env;
  llmsvc_client *client; /* NULL once destroyed */
  napi_threadsafe_function tsfn;
  napi_ref handle_ref; /* weak while idle, strong while requests are pending */
  napi_deferred close_deferred;
  uint32_t pending; /* requests whose promise is not settled yet */
  uint64_t last_id;
  bool closed;        /* llmsvc_client_close called */
  bool tsfn_released; /* napi_release_threadsafe_function called */
  bool tsfn_alive;    /* its finalizer has not run yet */
  bool handle_alive;  /* the external's finalizer has not run yet */
  bool hook;          /* the environment cleanup hook is registered */
  event_hook *events; /* the core's event hook payload; NULL while events are off */
  napi_ref on_event;  /* the JavaScript function events go to; strong while requests are
                         pending (like handle_ref), weak otherwise */
  uint32_t event_gen; /* generation of the current event hook */
} box;

/* The core's payload of an event hook, read on the engine thread only. */
struct event_hook {
  box *b;
  unsigned events; /* the LLMSVC_EVENT_* bits asked for */
  uint32_t gen;
};

/* What travels through the thread-safe function: a completion (an entry), a text piece,
 * a typed piece or an event. */
enum { MSG_DONE = 1, MSG_DELTA = 2, MSG_EVENT = 3, MSG_PIECE = 4 };

typedef struct entry {
  int type;               /* MSG_DONE */
  box *b;
  napi_deferred deferred; /* set on the JavaScript thread after submit returned */
  napi_ref on_delta;      /* streams: the JavaScript function each piece is given to */
  char *json;             /* the result document, copied on the engine thread */
  size_t len;
} entry;

typedef struct delta_msg {
  int type; /* MSG_DELTA */
  entry *e; /* alive until the completion is delivered, which comes after every piece */
  size_t len;
  char text[];
} delta_msg;

typedef struct piece_msg {
  int type; /* MSG_PIECE */
  entry *e; /* alive until the completion is delivered, which comes after every piece */
  int kind; /* llmsvc_piece_kind_t */
  uint32_t index;
  size_t len;      /* the text, at data[0] */
  size_t id_len;   /* the call's id, after the text (tool_call pieces only) */
  size_t name_len; /* the tool's name, after the id (tool_call pieces only) */
  char data[];
} piece_msg;

typedef struct event_msg {
  int type; /* MSG_EVENT */
  box *b;   /* alive while its thread-safe function is */
  uint32_t gen;
  size_t len;
  char json[]; /* NUL-terminated */
} event_msg;

/* ---- helpers --------------------------------------------------------------------- */

#define CHECK(call)                          \
  do {                                       \
    if ((call) != napi_ok) return NULL;      \
  } while (0)

static state *get_state(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (state *)data;
}

/* Throws a StatusError(op, status, message); a plain Error before init() ran. */
static napi_value throw_status(napi_env env, const char *op, int status, const char *message) {
  state *st = get_state(env);
  if (!message || !*message) message = llmsvc_strerror(status);
  napi_value ctor = NULL, err = NULL, argv[3];
  if (st && st->status_error_ctor &&
      napi_get_reference_value(env, st->status_error_ctor, &ctor) == napi_ok && ctor &&
      napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &argv[0]) == napi_ok &&
      napi_create_int32(env, status, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[2]) == napi_ok &&
      napi_new_instance(env, ctor, 3, argv, &err) == napi_ok) {
    napi_throw(env, err);
  } else {
    napi_throw_error(env, NULL, message);
  }
  return NULL;
}

static napi_value throw_from(napi_env env, const char *op, int status, llmsvc_error *err) {
  throw_status(env, op, status, llmsvc_error_message(err));
  llmsvc_error_free(err);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value v = NULL;
  napi_get_undefined(env, &v);
  return v;
}

/* Reads argument i as a string into the state's scratch buffer (NUL-terminated). */
static const char *arg_string(napi_env env, state *st, napi_value v, const char *op,
                              const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  size_t len = 0;
  if (st->scratch_cap > 0 &&
      napi_get_value_string_utf8(env, v, st->scratch, st->scratch_cap, &len) != napi_ok)
    return NULL;
  if (st->scratch_cap == 0 || len + 1 >= st->scratch_cap) {
    /* Possibly truncated: ask for the exact length and grow. */
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
    if (len + 1 > st->scratch_cap) {
      size_t cap = st->scratch_cap ? st->scratch_cap : 4096;
      while (cap < len + 1) cap *= 2;
      char *p = realloc(st->scratch, cap);
      if (!p) {
        throw_status(env, op, LLMSVC_ENOMEM, NULL);
        return NULL;
      }
      st->scratch = p;
      st->scratch_cap = cap;
    }
    if (napi_get_value_string_utf8(env, v, st->scratch, st->scratch_cap, &len) != napi_ok)
      return NULL;
  }
  return st->scratch;
}

static box *arg_box(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not an llmsvc client handle");
    return NULL;
  }
  return (box *)p;
}

/* ---- lifetime -------------------------------------------------------------------- */

static void maybe_free(box *b) {
  if (b->handle_alive || b->tsfn_alive) return;
  b->st->boxes--;
  free(b);
}

static void env_cleanup(void *arg);

/*
 * Destroys the core client and releases the thread-safe function. `abort` is set during
 * environment teardown, when no JavaScript can run any more: queued completions are then
 * dropped instead of delivered.
 */
static void box_shutdown(box *b, bool abort) {
  if (b->client) {
    llmsvc_client_destroy(b->client); /* every callback has run when this returns */
    b->client = NULL;
    b->closed = true;
    b->st->live_clients--;
  }
  /* The core is destroyed (or was never there): nothing calls the event hook any more. */
  if (!b->client && b->events) {
    free(b->events);
    b->events = NULL;
  }
  if (!b->tsfn_released) {
    b->tsfn_released = true;
    napi_release_threadsafe_function(b->tsfn, abort ? napi_tsfn_abort : napi_tsfn_release);
  }
  if (b->hook && !abort) napi_remove_env_cleanup_hook(b->env, env_cleanup, b);
  b->hook = false;
}

/* The environment is going away (process exit, worker terminated). */
static void env_cleanup(void *arg) { box_shutdown((box *)arg, true); }

/* The JavaScript handle was garbage collected (or the environment is being torn down). */
static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  box *b = (box *)data;
  b->handle_alive = false;
  box_shutdown(b, false);
  if (b->handle_ref) {
    napi_delete_reference(env, b->handle_ref);
    b->handle_ref = NULL;
  }
  if (b->on_event) {
    napi_delete_reference(env, b->on_event);
    b->on_event = NULL;
  }
  maybe_free(b);
}

/* The thread-safe function was released and its queue drained. */
static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  box *b = (box *)data;
  b->tsfn_alive = false;
  if (b->close_deferred) {
    napi_deferred d = b->close_deferred;
    b->close_deferred = NULL;
    napi_resolve_deferred(env, d, undefined(env));
  }
  maybe_free(b);
}

/* ---- completions ----------------------------------------------------------------- */

/* Engine thread: copy, free, queue. Never blocks and never touches JavaScript. */
static void on_complete(llmsvc_result *r, void *payload) {
  entry *e = (entry *)payload;
  size_t len = 0;
  const char *json = llmsvc_result_json(r, &len);
  e->json = (char *)malloc(len + 1);
  if (e->json) {
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->len = len;
  }
  llmsvc_result_free(r);
  if (napi_call_threadsafe_function(e->b->tsfn, e, napi_tsfn_nonblocking) != napi_ok) {
    /* Only while the environment is torn down: nothing is left to settle. */
    free(e->json);
    free(e);
  }
}

/* Engine thread: copy the piece and queue it. Never blocks and never touches JavaScript. */
static void on_delta(uint64_t request_id, const char *text, size_t len, void *payload) {
  (void)request_id;
  entry *e = (entry *)payload;
  delta_msg *m = (delta_msg *)malloc(sizeof *m + len);
  if (!m) return; /* the piece is lost; the completion still carries the whole text */
  m->type = MSG_DELTA;
  m->e = e;
  m->len = len;
  memcpy(m->text, text, len);
  if (napi_call_threadsafe_function(e->b->tsfn, m, napi_tsfn_nonblocking) != napi_ok) free(m);
}

/* Engine thread: copy a typed piece and queue it. Never blocks and never touches JavaScript.
 * The call's id and name are copied only where the core sets them (a call's start). */
static void on_piece(uint64_t request_id, int kind, uint32_t index, const char *call_id,
                     const char *name, const char *text, size_t len, void *payload) {
  (void)request_id;
  entry *e = (entry *)payload;
  bool start = kind == LLMSVC_PIECE_TOOL_CALL;
  size_t id_len = start && call_id ? strlen(call_id) : 0;
  size_t name_len = start && name ? strlen(name) : 0;
  piece_msg *m = (piece_msg *)malloc(sizeof *m + len + id_len + name_len);
  if (!m) return; /* the piece is lost; the completion still carries the text and calls */
  m->type = MSG_PIECE;
  m->e = e;
  m->kind = kind;
  m->index = index;
  m->len = len;
  m->id_len = id_len;
  m->name_len = name_len;
  if (len) memcpy(m->data, text, len);
  if (id_len) memcpy(m->data + len, call_id, id_len);
  if (name_len) memcpy(m->data + len + id_len, name, name_len);
  if (napi_call_threadsafe_function(e->b->tsfn, m, napi_tsfn_nonblocking) != napi_ok) free(m);
}

/* Engine thread: copy the event and queue it. Never blocks and never touches JavaScript. */
static void on_event(unsigned type, uint64_t request_id, const char *json, size_t len,
                     void *payload) {
  (void)request_id;
  event_hook *h = (event_hook *)payload;
  /* None: events are off and this one was built before. Another type: built for the
   * hook this one replaced. */
  if (!h || !(type & h->events)) return;
  event_msg *m = (event_msg *)malloc(sizeof *m + len + 1);
  if (!m) return; /* the event is lost */
  m->type = MSG_EVENT;
  m->b = h->b;
  m->gen = h->gen;
  m->len = len;
  memcpy(m->json, json, len);
  m->json[len] = '\0';
  if (napi_call_threadsafe_function(h->b->tsfn, m, napi_tsfn_nonblocking) != napi_ok) free(m);
}

/* JavaScript thread: hand an event to the client's event function, unless the hook it was
 * built for was replaced or turned off since. */
static void deliver_event(napi_env env, event_msg *m) {
  box *b = m->b;
  napi_value fn = NULL, recv = NULL, doc = NULL;
  if (m->gen == b->event_gen && b->on_event &&
      napi_get_reference_value(env, b->on_event, &fn) == napi_ok && fn &&
      napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_string_utf8(env, m->json, m->len, &doc) == napi_ok) {
    if (napi_call_function(env, recv, fn, 1, &doc, NULL) == napi_pending_exception) {
      /* The JavaScript side catches what a listener throws; should anything still
       * escape, it must not become an uncaught exception of the process. */
      napi_value ignored = NULL;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  free(m);
}

/* JavaScript thread: hand a piece to the stream's function. */
static void deliver_delta(napi_env env, delta_msg *m) {
  entry *e = m->e;
  napi_value fn = NULL, recv = NULL, text = NULL;
  if (e->on_delta && napi_get_reference_value(env, e->on_delta, &fn) == napi_ok && fn &&
      napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_string_utf8(env, m->text, m->len, &text) == napi_ok) {
    napi_call_function(env, recv, fn, 1, &text, NULL);
  }
  free(m);
}

/* JavaScript thread: hand a typed piece to the stream's function, as
 * fn(kind, index, text) or, for a call's start, fn(kind, index, text, callId, name). */
static void deliver_piece(napi_env env, piece_msg *m) {
  entry *e = m->e;
  napi_value fn = NULL, recv = NULL, argv[5];
  size_t argc = m->kind == LLMSVC_PIECE_TOOL_CALL ? 5 : 3;
  if (e->on_delta && napi_get_reference_value(env, e->on_delta, &fn) == napi_ok && fn &&
      napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_int32(env, m->kind, &argv[0]) == napi_ok &&
      napi_create_uint32(env, m->index, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env, m->data, m->len, &argv[2]) == napi_ok &&
      (argc == 3 ||
       (napi_create_string_utf8(env, m->data + m->len, m->id_len, &argv[3]) == napi_ok &&
        napi_create_string_utf8(env, m->data + m->len + m->id_len, m->name_len, &argv[4]) ==
            napi_ok))) {
    napi_call_function(env, recv, fn, argc, argv, NULL);
  }
  free(m);
}

/* JavaScript thread: settle the request's promise with its result document. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  if (*(int *)data == MSG_DELTA) {
    if (env == NULL) free(data); /* teardown: nothing is left to deliver it to */
    else deliver_delta(env, (delta_msg *)data);
    return;
  }
  if (*(int *)data == MSG_PIECE) {
    if (env == NULL) free(data);
    else deliver_piece(env, (piece_msg *)data);
    return;
  }
  if (*(int *)data == MSG_EVENT) {
    if (env == NULL) free(data);
    else deliver_event(env, (event_msg *)data);
    return;
  }
  entry *e = (entry *)data;
  if (env == NULL) { /* teardown: the queue is being emptied without JavaScript */
    free(e->json);
    free(e);
    return;
  }
  box *b = e->b;
  if (e->on_delta) {
    napi_delete_reference(env, e->on_delta);
    e->on_delta = NULL;
  }
  if (e->deferred) {
    napi_value v = NULL;
    if (e->json && napi_create_string_utf8(env, e->json, e->len, &v) == napi_ok) {
      napi_resolve_deferred(env, e->deferred, v);
    } else {
      napi_value msg = NULL, err = NULL;
      napi_create_string_utf8(env, "out of memory copying a result", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &err);
      napi_reject_deferred(env, e->deferred, err);
    }
  }
  free(e->json);
  free(e);
  b->st->pending_entries--;
  if (--b->pending == 0) {
    napi_unref_threadsafe_function(env, b->tsfn);
    if (b->handle_ref) napi_reference_unref(env, b->handle_ref, NULL);
    if (b->on_event) napi_reference_unref(env, b->on_event, NULL);
  }
}

/* ---- exported functions ---------------------------------------------------------- */

/* init(StatusError): remembers the class that synchronous failures are thrown as. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  state *st = get_state(env);
  if (argc < 1) return undefined(env);
  if (st->status_error_ctor) napi_delete_reference(env, st->status_error_ctor);
  st->status_error_ctor = NULL;
  CHECK(napi_create_reference(env, argv[0], 1, &st->status_error_ctor));
  return undefined(env);
}

/* open(configJson) -> handle */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  state *st = get_state(env);
  if (argc < 1) return throw_status(env, "new", LLMSVC_EINVAL, "config is required");
  const char *config = arg_string(env, st, argv[0], "new", "config must be a string");
  if (!config) return NULL;

  llmsvc_client *client = NULL;
  llmsvc_error *err = NULL;
  int rc = llmsvc_client_new(&client, config, &err);
  if (rc != LLMSVC_OK) return throw_from(env, "new", rc, err);

  box *b = (box *)calloc(1, sizeof *b);
  if (!b) {
    llmsvc_client_destroy(client);
    return throw_status(env, "new", LLMSVC_ENOMEM, NULL);
  }
  b->st = st;
  b->env = env;
  b->client = client;
  st->live_clients++;
  st->boxes++;

  napi_value name = NULL, handle = NULL;
  if (napi_create_string_utf8(env, "llmsvc.completion", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, b, tsfn_finalize, b, call_js,
                                      &b->tsfn) != napi_ok) {
    llmsvc_client_destroy(client);
    st->live_clients--;
    st->boxes--;
    free(b);
    return throw_status(env, "new", LLMSVC_ESYSTEM, "could not create a thread-safe function");
  }
  b->tsfn_alive = true;
  napi_unref_threadsafe_function(env, b->tsfn); /* idle: do not hold the process open */

  if (napi_create_external(env, b, handle_finalize, NULL, &handle) != napi_ok) {
    box_shutdown(b, false);
    return NULL; /* tsfn_finalize frees the box */
  }
  b->handle_alive = true;
  if (napi_create_reference(env, handle, 0, &b->handle_ref) != napi_ok) b->handle_ref = NULL;

  /* After the thread-safe function, so that this hook runs before Node's own for it. */
  if (napi_add_env_cleanup_hook(env, env_cleanup, b) == napi_ok) b->hook = true;
  return handle;
}

/* How submit() sends a request. */
typedef enum { SUBMIT_PLAIN, SUBMIT_STREAM, SUBMIT_PIECES } submit_mode;

/*
 * Submits a request; streamed (SUBMIT_STREAM: text pieces, SUBMIT_PIECES: typed pieces)
 * with `fn`, the JavaScript function its pieces are given to. Returns the promise of the
 * result document, or NULL with an exception pending.
 */
static napi_value submit(napi_env env, box *b, napi_value request_v, submit_mode mode,
                         napi_value fn) {
  if (b->closed) return throw_status(env, "submit", LLMSVC_ECLOSED, NULL);
  state *st = b->st;
  const char *request = arg_string(env, st, request_v, "submit", "request must be a string");
  if (!request) return NULL;

  entry *e = (entry *)calloc(1, sizeof *e);
  if (!e) return throw_status(env, "submit", LLMSVC_ENOMEM, NULL);
  e->type = MSG_DONE;
  e->b = b;
  /* Before submitting: pieces may be on their way before submit returns. */
  if (fn && napi_create_reference(env, fn, 1, &e->on_delta) != napi_ok) {
    free(e);
    return NULL;
  }
  uint64_t id = 0;
  llmsvc_error *err = NULL;
  int rc;
  switch (mode) {
    case SUBMIT_STREAM:
      rc = llmsvc_client_submit_stream(b->client, request, on_delta, on_complete, e, &id, &err);
      break;
    case SUBMIT_PIECES:
      rc = llmsvc_client_submit_stream_pieces(b->client, request, on_piece, on_complete, e, &id,
                                              &err);
      break;
    default:
      rc = llmsvc_client_submit(b->client, request, on_complete, e, &id, &err);
      break;
  }
  if (rc != LLMSVC_OK) {
    if (e->on_delta) napi_delete_reference(env, e->on_delta);
    free(e);
    return throw_from(env, "submit", rc, err);
  }
  /*
   * Accepted: the completion may already be queued, but call_js runs on this thread, so
   * it cannot read e->deferred before this function returns. The engine thread writes
   * only e->json and e->len.
   */
  b->last_id = id;
  st->pending_entries++;
  if (b->pending++ == 0) {
    napi_ref_threadsafe_function(env, b->tsfn);
    if (b->handle_ref) napi_reference_ref(env, b->handle_ref, NULL);
    if (b->on_event) napi_reference_ref(env, b->on_event, NULL);
  }
  napi_value promise = NULL;
  if (napi_create_promise(env, &e->deferred, &promise) != napi_ok) {
    e->deferred = NULL;
    llmsvc_client_cancel(b->client, id);
    return NULL;
  }
  return promise;
}

/* submit(handle, requestJson) -> Promise<string>; the request id is then lastId(handle). */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_status(env, "submit", LLMSVC_EINVAL, "request is required");
  box *b = arg_box(env, argv[0]);
  if (!b) return NULL;
  return submit(env, b, argv[1], SUBMIT_PLAIN, NULL);
}

/* The streaming submits: (handle, requestJson, fn) with fn a function. */
static napi_value submit_streamed(napi_env env, napi_callback_info info, submit_mode mode,
                                  const char *what) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_status(env, "submit", LLMSVC_EINVAL, "request and a callback are required");
  box *b = arg_box(env, argv[0]);
  if (!b) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return submit(env, b, argv[1], mode, argv[2]);
}

/*
 * submitStream(handle, requestJson, onDelta) -> Promise<string>: a streamed request. Each
 * text piece is given to onDelta(text) on the JavaScript thread, in order, before the
 * promise settles with the result document (which carries the whole text).
 */
static napi_value js_submit_stream(napi_env env, napi_callback_info info) {
  return submit_streamed(env, info, SUBMIT_STREAM, "onDelta must be a function");
}

/*
 * submitStreamPieces(handle, requestJson, onPiece) -> Promise<string>: a streamed request
 * whose pieces are typed. Each is given to onPiece(kind, index, text) — for a tool call's
 * start onPiece(kind, index, "", callId, name) — on the JavaScript thread, in order, before
 * the promise settles with the result document (which carries the text and the calls).
 */
static napi_value js_submit_stream_pieces(napi_env env, napi_callback_info info) {
  return submit_streamed(env, info, SUBMIT_PIECES, "onPiece must be a function");
}

/* lastId(handle) -> number: the id of the request the last submit() accepted. */
static napi_value js_last_id(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  CHECK(napi_create_double(env, (double)b->last_id, &v));
  return v;
}

/* cancel(handle, id) -> boolean: true when the request was still pending in the core. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], v = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  double id = 0;
  if (argc < 2 || napi_get_value_double(env, argv[1], &id) != napi_ok || !(id >= 1)) {
    napi_throw_type_error(env, NULL, "id must be a positive number");
    return NULL;
  }
  bool found = b->client && llmsvc_client_cancel(b->client, (uint64_t)id) == LLMSVC_OK;
  CHECK(napi_get_boolean(env, found, &v));
  return v;
}

typedef int (*snapshot_fn)(llmsvc_client *, char **, llmsvc_error **);

/* A snapshot as a JS string: the metrics document or its Prometheus text. */
static napi_value snapshot(napi_env env, napi_callback_info info, const char *op,
                           snapshot_fn fn) {
  size_t argc = 1;
  napi_value argv[1], v = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  if (!b->client) return throw_status(env, op, LLMSVC_ECLOSED, NULL);
  char *text = NULL;
  llmsvc_error *err = NULL;
  int rc = fn(b->client, &text, &err);
  if (rc != LLMSVC_OK) return throw_from(env, op, rc, err);
  napi_status s = napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  llmsvc_free(text);
  return s == napi_ok ? v : NULL;
}

/* metrics(handle) -> string (the snapshot document) */
static napi_value js_metrics(napi_env env, napi_callback_info info) {
  return snapshot(env, info, "metrics", llmsvc_client_metrics);
}

/* metricsPrometheus(handle) -> string (the snapshot in the Prometheus text format) */
static napi_value js_metrics_prometheus(napi_env env, napi_callback_info info) {
  return snapshot(env, info, "metricsPrometheus", llmsvc_client_metrics_prometheus);
}

/* setLimits(handle, limitsJson) */
static napi_value js_set_limits(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  if (argc < 2) return throw_status(env, "setLimits", LLMSVC_EINVAL, "limits is required");
  if (!b->client) return throw_status(env, "setLimits", LLMSVC_ECLOSED, NULL);
  const char *limits = arg_string(env, b->st, argv[1], "setLimits", "limits must be a string");
  if (!limits) return NULL;
  llmsvc_error *err = NULL;
  int rc = llmsvc_client_set_limits(b->client, limits, &err);
  if (rc != LLMSVC_OK) return throw_from(env, "setLimits", rc, err);
  return undefined(env);
}

/* setDeployment(handle, deploymentJson) */
static napi_value js_set_deployment(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  if (argc < 2) return throw_status(env, "setDeployment", LLMSVC_EINVAL, "deployment is required");
  if (!b->client) return throw_status(env, "setDeployment", LLMSVC_ECLOSED, NULL);
  const char *deployment =
      arg_string(env, b->st, argv[1], "setDeployment", "deployment must be a string");
  if (!deployment) return NULL;
  llmsvc_error *err = NULL;
  int rc = llmsvc_client_set_deployment(b->client, deployment, &err);
  if (rc != LLMSVC_OK) return throw_from(env, "setDeployment", rc, err);
  return undefined(env);
}

/*
 * setEventHook(handle, events, flags, fn): lifecycle events of the LLMSVC_EVENT_* bits
 * `events` go to fn(json) on the JavaScript thread, in order, each request's before its
 * completion; `events` 0 (or fn not a function) turns them off. Events queued for an
 * earlier hook and not yet delivered are dropped. fn is held weakly while no request is
 * pending: the caller keeps it alive.
 */
static napi_value js_set_event_hook(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  uint32_t events = 0, flags = 0;
  if (argc < 3 || napi_get_value_uint32(env, argv[1], &events) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "events and flags must be numbers");
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc >= 4 && napi_typeof(env, argv[3], &t) != napi_ok) return NULL;
  bool on = events != 0 && t == napi_function;
  if (!b->client) {
    if (!on) return undefined(env); /* destroyed: nothing is delivered anyway */
    return throw_status(env, "setEventHook", LLMSVC_ECLOSED, NULL);
  }
  if (on && b->closed) return throw_status(env, "setEventHook", LLMSVC_ECLOSED, NULL);

  event_hook *h = NULL;
  napi_ref ref = NULL;
  if (on) {
    h = (event_hook *)malloc(sizeof *h);
    if (!h) return throw_status(env, "setEventHook", LLMSVC_ENOMEM, NULL);
    h->b = b;
    h->events = events;
    h->gen = b->event_gen + 1;
    if (napi_create_reference(env, argv[3], b->pending > 0 ? 1 : 0, &ref) != napi_ok) {
      free(h);
      return NULL;
    }
  }
  llmsvc_error *err = NULL;
  /* Off: the callback stays, with no payload, so that events built before are dropped
   * rather than put in the completion queue, which nothing here reads. */
  int rc = llmsvc_client_set_event_hook(b->client, on ? events : 0, on ? flags : 0, on_event, h,
                                        &err);
  if (rc != LLMSVC_OK) {
    if (ref) napi_delete_reference(env, ref);
    free(h);
    return throw_from(env, "setEventHook", rc, err);
  }
  /* The core calls only the new hook from now on, and the old one is not running: the
   * call above returned once the engine thread applied it between two of its steps,
   * outside any callback (and this thread, the only one that calls it, never runs one). */
  free(b->events);
  b->events = h;
  b->event_gen++;
  if (b->on_event) napi_delete_reference(env, b->on_event);
  b->on_event = ref;
  return undefined(env);
}

/*
 * close(handle) -> Promise<void>. Refuses new work, completes every pending request with
 * kind shut_down (their promises settle as the queue drains) and resolves once the last
 * completion was delivered. The core client stays readable (metrics) until the handle is
 * collected.
 */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  napi_deferred d = NULL;
  CHECK(napi_create_promise(env, &d, &promise));
  if (b->closed || b->tsfn_released || b->close_deferred) {
    napi_resolve_deferred(env, d, undefined(env));
    return promise;
  }
  b->closed = true;
  int rc = llmsvc_client_close(b->client); /* completions are queued when it returns */
  if (rc != LLMSVC_OK) {
    napi_resolve_deferred(env, d, undefined(env));
    return throw_status(env, "close", rc, NULL);
  }
  b->close_deferred = d;
  b->tsfn_released = true;
  /* Referenced, so that the event loop stays up until the queue is drained and the
   * finalizer has resolved the promise. */
  napi_ref_threadsafe_function(env, b->tsfn);
  napi_release_threadsafe_function(b->tsfn, napi_tsfn_release);
  return promise;
}

/* pending(handle) -> number of requests whose promise has not settled */
static napi_value js_pending(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  box *b = argc ? arg_box(env, argv[0]) : NULL;
  if (!b) return NULL;
  CHECK(napi_create_uint32(env, b->pending, &v));
  return v;
}

static bool set_number(napi_env env, napi_value obj, const char *key, double n) {
  napi_value v = NULL;
  return napi_create_double(env, n, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* stats() -> { pendingEntries, liveClients, nativeClients } for this environment */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  state *st = get_state(env);
  napi_value obj = NULL;
  CHECK(napi_create_object(env, &obj));
  if (!set_number(env, obj, "pendingEntries", (double)st->pending_entries) ||
      !set_number(env, obj, "liveClients", (double)st->live_clients) ||
      !set_number(env, obj, "nativeClients", (double)st->boxes))
    return NULL;
  return obj;
}

/* version() -> the runtime version of libllmsvc */
static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v = NULL;
  CHECK(napi_create_string_utf8(env, llmsvc_version(), NAPI_AUTO_LENGTH, &v));
  return v;
}

/* loadConfig(path) -> [configJson, warningsJson]: a configuration file as the core reads it */
static napi_value js_load_config(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  state *st = get_state(env);
  if (argc < 1) return throw_status(env, "new", LLMSVC_EINVAL, "path is required");
  const char *path = arg_string(env, st, argv[0], "new", "path must be a string");
  if (!path) return NULL;
  char *config = NULL, *warnings = NULL;
  llmsvc_error *err = NULL;
  int rc = llmsvc_config_load(path, &config, &warnings, &err);
  if (rc != LLMSVC_OK) return throw_from(env, "new", rc, err);
  napi_value out = NULL, c = NULL, w = NULL;
  napi_status s1 = napi_create_string_utf8(env, config, NAPI_AUTO_LENGTH, &c);
  napi_status s2 = napi_create_string_utf8(env, warnings, NAPI_AUTO_LENGTH, &w);
  llmsvc_free(config);
  llmsvc_free(warnings);
  CHECK(s1);
  CHECK(s2);
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, c));
  CHECK(napi_set_element(env, out, 1, w));
  return out;
}

/* ---- module ---------------------------------------------------------------------- */

static void state_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  state *st = (state *)data;
  if (st->status_error_ctor) napi_delete_reference(env, st->status_error_ctor);
  free(st->scratch);
  free(st);
}

NAPI_MODULE_INIT() {
  state *st = (state *)calloc(1, sizeof *st);
  if (!st) {
    napi_throw_error(env, NULL, "llmsvc: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) {
    free(st);
    return NULL;
  }
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"init", js_init},       {"open", js_open},
      {"submit", js_submit},   {"submitStream", js_submit_stream},
      {"submitStreamPieces", js_submit_stream_pieces},
      {"lastId", js_last_id},
      {"cancel", js_cancel},   {"metrics", js_metrics},
      {"metricsPrometheus", js_metrics_prometheus},
      {"setLimits", js_set_limits}, {"setDeployment", js_set_deployment},
      {"setEventHook", js_set_event_hook},
      {"close", js_close},
      {"pending", js_pending}, {"stats", js_stats},
      {"version", js_version}, {"loadConfig", js_load_config},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f = NULL;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  return exports;
}
