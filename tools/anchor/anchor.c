/*
 * The C anchor of tools/bench.py: the seed's overlapped styles, written as a C
 * program writes them, on sockets the benchmark connected.
 *
 * A DLL loaded with ctypes into the benchmark's own Windows python, so that the
 * C loop and winsock_ov's run interleaved in one process, on the same kind of
 * sockets (CPython's, made by the same socket_pairs), on the same thread, timed
 * by the same clock, and counted in the same Wine server trace (the benchmark's
 * markers bracket the call like any other run).  Built by tools/c_anchor.py with
 * x86_64-w64-mingw32-gcc.
 *
 * Styles (anchor_style() maps the names tools/bench.py uses):
 *   "events new"     the seed's first program: WSACreateEvent per operation,
 *                    WSAWaitForMultipleEvents, WSAGetOverlappedResult, WSACloseEvent;
 *   "events reused"  one event per socket, WSAResetEvent before each operation;
 *   "routines"       the seed's second program: a completion routine per
 *                    operation, run during an alertable SleepEx;
 *   "port"           a completion port, GetQueuedCompletionStatus per packet.
 * Workloads (anchor_ping_pong, anchor_bulk, anchor_echo) are bench.py's, step for
 * step: the same operations started in the same order, the same waits.  The
 * event styles scan the operations in flight for a final Internal
 * (HasOverlappedIoCompleted, no system call) and wait only when none is, on the
 * events of the oldest 64 (WSA_MAXIMUM_WAIT_EVENTS); bench.py's event driver does
 * the same.
 *
 * Every function returns 0, or a Windows error code: a Winsock call's error,
 * WAIT_TIMEOUT (no completion within WAIT_MS), ERROR_INVALID_PARAMETER (a bad
 * argument), ERROR_NOT_ENOUGH_MEMORY, ERROR_INVALID_DATA (bytes other than those
 * sent came back).  Before it returns, every operation it started is over: an
 * error cancels them (CancelIoEx) and waits for their ends; if they do not end
 * within WAIT_MS, their memory (and their events) are leaked on purpose, since
 * Windows may still write it or queue a routine that reads it.
 */
#include <winsock2.h>
#include <windows.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 10000
#define CHUNK (64 * 1024)
#define MAX_PARTS 2

enum style { EVENTS_NEW, EVENTS_REUSED, ROUTINES, PORT, STYLES };
static const char *const style_names[STYLES] = {"events new", "events reused", "routines", "port"};

enum kind { SEND, RECV_SERVER, RECV_CLIENT };

typedef struct op {
    WSAOVERLAPPED ov;  /* first: a routine and a packet hand back its address */
    struct loop *loop;
    struct op *prev, *next;  /* in flight, oldest first; or the free list (next) */
    SOCKET sock;
    int sock_index;
    enum kind kind;
    int conn;  /* the echo's connection */
    DWORD error, nbytes;
    char *buffer;  /* this operation's own receive (or echo) buffer */
} op_t;

typedef struct anchor_stats {  /* what a loop moved, for tests/test_bench.py */
    long long operations, bytes_sent, bytes_received;
} anchor_stats;

typedef struct loop {
    enum style style;
    const SOCKET *socks;
    int nsocks;
    WSAEVENT *socket_events;  /* EVENTS_REUSED: one per socket */
    HANDLE port;              /* PORT */
    op_t *ops, *free_ops, *oldest, *newest;
    char *buffers;
    int in_flight;
    op_t *finished;           /* ROUTINES: ended ops whose routine ran, newest first */
    anchor_stats *stats;
} loop_t;

/* --- one operation ------------------------------------------------------------------------ */

static void CALLBACK routine(DWORD error, DWORD nbytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    op_t *op = (op_t *)ov;
    (void)flags;
    op->error = error;
    op->nbytes = nbytes;
    op->next = op->loop->finished;  /* a routine op is on no other list */
    op->loop->finished = op;
}

/* In flight: counted, and for the event styles listed oldest first (their scan and wait).
 * A routine's and a packet's op come back by address: they need no list. */
static void in_flight(loop_t *L, op_t *op)
{
    L->in_flight++;
    if (L->style != EVENTS_NEW && L->style != EVENTS_REUSED) return;
    op->prev = L->newest;
    op->next = NULL;
    if (L->newest) L->newest->next = op; else L->oldest = op;
    L->newest = op;
}

static void out_of_flight(loop_t *L, op_t *op)
{
    L->in_flight--;
    if (L->style != EVENTS_NEW && L->style != EVENTS_REUSED) return;
    if (op->prev) op->prev->next = op->next; else L->oldest = op->next;
    if (op->next) op->next->prev = op->prev; else L->newest = op->prev;
}

static void release(loop_t *L, op_t *op)
{
    op->next = L->free_ops;
    L->free_ops = op;
}

/* Start a WSASend or a WSARecv on socket `sock_index`.  A send sends `parts`, or, when
 * `parts` is NULL, `len` bytes copied first from `copy` into the op's own buffer; a
 * receive reads up to `len` bytes into the op's buffer.  *out: the operation, in flight
 * until completions() hands it back.  0, or the error of a call that started nothing. */
static DWORD start(loop_t *L, int sock_index, enum kind kind, int conn, const WSABUF *parts,
                   DWORD nparts, DWORD len, const char *copy, op_t **out)
{
    op_t *op = L->free_ops;
    WSABUF bufs[MAX_PARTS];
    DWORD flags = 0;
    int rc;
    if (op == NULL) return ERROR_NOT_ENOUGH_MEMORY;
    L->free_ops = op->next;
    memset(&op->ov, 0, sizeof op->ov);
    op->ov.Internal = STATUS_PENDING;  /* the event styles' scan reads it (as winsock_ov's) */
    op->sock = L->socks[sock_index];
    op->sock_index = sock_index;
    op->kind = kind;
    op->conn = conn;
    op->error = op->nbytes = 0;
    if (parts != NULL) {
        memcpy(bufs, parts, nparts * sizeof *parts);
    } else {
        if (copy != NULL) memcpy(op->buffer, copy, len);
        bufs[0].len = len;
        bufs[0].buf = op->buffer;
        nparts = 1;
    }
    if (L->style == EVENTS_NEW) {
        op->ov.hEvent = WSACreateEvent();
        if (op->ov.hEvent == WSA_INVALID_EVENT) {
            release(L, op);
            return WSAGetLastError();
        }
    } else if (L->style == EVENTS_REUSED) {
        op->ov.hEvent = L->socket_events[sock_index];
        /* Reset before reuse: the scan of Internal, not the event, says which op ended. */
        if (!WSAResetEvent(op->ov.hEvent)) {
            release(L, op);
            return WSAGetLastError();
        }
    }
    in_flight(L, op);
    if (kind == SEND)
        rc = WSASend(op->sock, bufs, nparts, NULL, 0, &op->ov,
                     L->style == ROUTINES ? routine : NULL);
    else
        rc = WSARecv(op->sock, bufs, 1, NULL, &flags, &op->ov,
                     L->style == ROUTINES ? routine : NULL);
    if (rc == SOCKET_ERROR) {
        DWORD error = WSAGetLastError();
        if (error != WSA_IO_PENDING) {  /* nothing started: no event, routine or packet */
            out_of_flight(L, op);
            if (L->style == EVENTS_NEW) WSACloseEvent(op->ov.hEvent);
            release(L, op);
            return error;
        }
    }
    L->stats->operations++;
    *out = op;
    return 0;
}

/* --- learning that operations ended ------------------------------------------------------ */

/* An event style's ended op: its result (Internal is final: WSAGetOverlappedResult
 * does not wait), its own event closed. */
static void reap_event_op(loop_t *L, op_t *op, op_t **done, int *count)
{
    DWORD flags = 0;
    out_of_flight(L, op);
    if (!WSAGetOverlappedResult(op->sock, &op->ov, &op->nbytes, FALSE, &flags)) {
        op->error = WSAGetLastError();
        op->nbytes = 0;
    }
    if (L->style == EVENTS_NEW) WSACloseEvent(op->ov.hEvent);
    done[(*count)++] = op;
}

static DWORD event_completions(loop_t *L, op_t **done, int *count)
{
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    DWORD nevents = 0, rc;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        op_t *op = L->oldest, *next;
        for (; op; op = next) {
            next = op->next;
            if (HasOverlappedIoCompleted(&op->ov)) reap_event_op(L, op, done, count);
        }
        if (*count || pass) break;
        for (op = L->oldest; op && nevents < WSA_MAXIMUM_WAIT_EVENTS; op = op->next) {
            DWORD i = 0;
            while (i < nevents && events[i] != op->ov.hEvent) i++;  /* a socket's event once */
            if (i == nevents) events[nevents++] = op->ov.hEvent;
        }
        if (nevents == 0) return ERROR_INVALID_PARAMETER;  /* nothing in flight */
        rc = WSAWaitForMultipleEvents(nevents, events, FALSE, WAIT_MS, FALSE);
        if (rc == WSA_WAIT_TIMEOUT) return WAIT_TIMEOUT;
        if (rc == WSA_WAIT_FAILED) return WSAGetLastError();
    }
    return 0;
}

static DWORD routine_completions(loop_t *L, op_t **done, int *count)
{
    op_t *op;
    if (L->in_flight == 0) return ERROR_INVALID_PARAMETER;
    while (L->finished == NULL) {
        if (SleepEx(WAIT_MS, TRUE) != WAIT_IO_COMPLETION) return WAIT_TIMEOUT;
    }
    for (op = L->finished; op; op = op->next) (*count)++;
    {  /* oldest first, as they ran */
        int i = *count;
        for (op = L->finished; op; op = op->next) done[--i] = op;
    }
    L->finished = NULL;
    L->in_flight -= *count;
    return 0;
}

static DWORD port_completions(loop_t *L, op_t **done, int *count)
{
    DWORD nbytes;
    ULONG_PTR key;
    LPOVERLAPPED ov = NULL;
    op_t *op;
    if (L->in_flight == 0) return ERROR_INVALID_PARAMETER;
    if (!GetQueuedCompletionStatus(L->port, &nbytes, &key, &ov, WAIT_MS)) {
        DWORD error = GetLastError();
        if (ov == NULL) return error == WAIT_TIMEOUT ? WAIT_TIMEOUT : error;
        op = (op_t *)ov;  /* dequeued: the I/O failed */
        op->error = error;
        op->nbytes = 0;
    } else {
        op = (op_t *)ov;
        op->error = 0;
        op->nbytes = nbytes;
    }
    out_of_flight(L, op);
    done[(*count)++] = op;
    return 0;
}

/* Wait for at least one operation to end; done[0..*count) are the ended ones, taken out of
 * flight.  The caller releases them.  `done` has room for every op. */
static DWORD completions(loop_t *L, op_t **done, int *count)
{
    *count = 0;
    switch (L->style) {
    case EVENTS_NEW:
    case EVENTS_REUSED: return event_completions(L, done, count);
    case ROUTINES: return routine_completions(L, done, count);
    default: return port_completions(L, done, count);
    }
}

/* --- a loop's life -------------------------------------------------------------------------- */

/* *out: a loop on the heap (a routine queued for one of its ops writes to it, so a loop
 * that could not drain is leaked with them); NULL if none could be made. */
static DWORD open_loop(loop_t **out, int style, const SOCKET *socks, int nsocks, int nops,
                       DWORD bufsize, anchor_stats *stats)
{
    loop_t *L;
    int i;
    *out = NULL;
    if (style < 0 || style >= STYLES || nsocks < 1 || stats == NULL) return ERROR_INVALID_PARAMETER;
    memset(stats, 0, sizeof *stats);
    if ((L = *out = calloc(1, sizeof *L)) == NULL) return ERROR_NOT_ENOUGH_MEMORY;
    L->style = (enum style)style;
    L->socks = socks;
    L->nsocks = nsocks;
    L->stats = stats;
    L->ops = calloc((size_t)nops, sizeof *L->ops);
    L->buffers = malloc((size_t)nops * bufsize);
    if (L->ops == NULL || L->buffers == NULL) return ERROR_NOT_ENOUGH_MEMORY;
    for (i = 0; i < nops; i++) {
        L->ops[i].loop = L;
        L->ops[i].buffer = L->buffers + (size_t)i * bufsize;
        release(L, &L->ops[i]);
    }
    if (L->style == EVENTS_REUSED) {
        L->socket_events = calloc((size_t)nsocks, sizeof *L->socket_events);
        if (L->socket_events == NULL) return ERROR_NOT_ENOUGH_MEMORY;
        for (i = 0; i < nsocks; i++) {
            L->socket_events[i] = WSACreateEvent();
            if (L->socket_events[i] == WSA_INVALID_EVENT) return WSAGetLastError();
        }
    } else if (L->style == PORT) {
        L->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        if (L->port == NULL) return GetLastError();
        for (i = 0; i < nsocks; i++)
            if (!CreateIoCompletionPort((HANDLE)socks[i], L->port, 0, 0)) return GetLastError();
    }
    return 0;
}

/* Ops released by the caller once it read them (done lists are per call). */
static void release_all(loop_t *L, op_t **done, int count)
{
    int i;
    for (i = 0; i < count; i++) {
        op_t *op = done[i];
        if (op->error == 0) {
            if (op->kind == SEND) L->stats->bytes_sent += op->nbytes;
            else L->stats->bytes_received += op->nbytes;
        }
        release(L, op);
    }
}

/* End the loop: after an error, cancel what is in flight; wait for every op to end; free
 * everything, or leak it on purpose if Windows may still write it.  The first error wins. */
static DWORD close_loop(loop_t *L, DWORD error)
{
    int i, count;
    if (L == NULL) return error;
    if (error)
        for (i = 0; i < L->nsocks; i++) CancelIoEx((HANDLE)L->socks[i], NULL);
    while (L->in_flight > 0) {
        op_t **done = malloc((size_t)L->in_flight * sizeof *done);
        DWORD drained;
        if (done == NULL) return error ? error : ERROR_NOT_ENOUGH_MEMORY;  /* leaked */
        drained = completions(L, done, &count);
        if (!drained) release_all(L, done, count);  /* a last send counts in the stats too */
        free(done);
        if (drained) return error ? error : drained;  /* still Windows's: leaked */
    }
    if (L->socket_events)
        for (i = 0; i < L->nsocks; i++)
            if (L->socket_events[i] && L->socket_events[i] != WSA_INVALID_EVENT)
                WSACloseEvent(L->socket_events[i]);
    free(L->socket_events);
    if (L->port) CloseHandle(L->port);
    free(L->ops);
    free(L->buffers);
    free(L);
    return error;
}

/* --- the workloads (tools/bench.py's ping_pong, bulk and echo) ------------------------------ */

__declspec(dllexport) int anchor_style(const char *name)
{
    int i;
    for (i = 0; name && i < STYLES; i++)
        if (strcmp(name, style_names[i]) == 0) return i;
    return -1;
}

/* Handle completions until `token`'s; fail if it failed or did not carry `expected`. */
static DWORD wait_for(loop_t *L, op_t *token, op_t **done, char expected)
{
    for (;;) {
        int count, i, found = 0;
        DWORD error = completions(L, done, &count);
        if (error) return error;
        for (i = 0; i < count; i++) {
            if (done[i]->error) error = done[i]->error;
            if (done[i] == token) {
                found = 1;
                if (!error && (token->nbytes != 1 || token->buffer[0] != expected))
                    error = ERROR_INVALID_DATA;
            }
        }
        release_all(L, done, count);
        if (error || found) return error;
    }
}

/* 1-byte round trips: a receive on b, "x" sent from a; then a receive on a, "y" from b. */
__declspec(dllexport) DWORD anchor_ping_pong(int style, SOCKET a, SOCKET b, int trips,
                                              anchor_stats *stats)
{
    SOCKET socks[2] = {a, b};
    static char x[] = "x", y[] = "y";
    WSABUF send_x = {1, x}, send_y = {1, y};
    op_t *done[8], *got, *sent;
    loop_t *L;
    DWORD error = open_loop(&L, style, socks, 2, 8, 1, stats);
    int i;
    if (!error && trips < 0) error = ERROR_INVALID_PARAMETER;
    for (i = 0; !error && i < trips; i++) {
        if (!(error = start(L, 1, RECV_SERVER, 0, NULL, 0, 1, NULL, &got))
            && !(error = start(L, 0, SEND, 0, &send_x, 1, 0, NULL, &sent)))
            error = wait_for(L, got, done, 'x');
        if (!error && !(error = start(L, 0, RECV_CLIENT, 0, NULL, 0, 1, NULL, &got))
            && !(error = start(L, 1, SEND, 0, &send_y, 1, 0, NULL, &sent)))
            error = wait_for(L, got, done, 'y');
    }
    return close_loop(L, error);
}

/* A stream of 64 KiB writes from a to b, two in flight, one receive of up to 64 KiB.
 * The bytes received are counted, not read (bench.py's loop does not read them either). */
__declspec(dllexport) DWORD anchor_bulk(int style, SOCKET a, SOCKET b, int chunks,
                                         anchor_stats *stats)
{
    static char chunk[CHUNK];  /* zeros, as bench.py's bytes(CHUNK) */
    SOCKET socks[2] = {a, b};
    WSABUF part = {CHUNK, chunk};
    op_t *done[8], *receive = NULL, *op;
    long long total = (long long)chunks * CHUNK, sent = 0, received = 0;
    int sends = 0, count, i;
    loop_t *L;
    DWORD error = open_loop(&L, style, socks, 2, 8, CHUNK, stats);
    if (!error && chunks < 0) error = ERROR_INVALID_PARAMETER;
    while (!error && received < total) {
        if (receive == NULL) error = start(L, 1, RECV_SERVER, 0, NULL, 0, CHUNK, NULL, &receive);
        while (!error && sends < 2 && sent < total) {
            if (!(error = start(L, 0, SEND, 0, &part, 1, 0, NULL, &op))) {
                sends++;
                sent += CHUNK;
            }
        }
        if (error || (error = completions(L, done, &count))) break;
        for (i = 0; i < count; i++) {
            if (done[i]->error) error = done[i]->error;
            if (done[i] == receive) {
                if (!error && done[i]->nbytes == 0) error = ERROR_INVALID_DATA;  /* peer closed */
                received += done[i]->nbytes;
                receive = NULL;
            } else {
                sends--;
            }
        }
        release_all(L, done, count);
    }
    return close_loop(L, error);
}

#define ECHO_SIZE 64
/* Echo over `connections` pairs: each round, every client sends a message (header and
 * body, two buffers) that its server receives and sends back, and the client receives. */
__declspec(dllexport) DWORD anchor_echo(int style, const SOCKET *clients,
                                         const SOCKET *servers, int connections, int rounds,
                                         anchor_stats *stats)
{
    static char header[] = "LEN=0056";
    static char body[ECHO_SIZE - 8];
    WSABUF message[2] = {{8, header}, {ECHO_SIZE - 8, body}};
    SOCKET *socks;
    op_t **done, *op;
    loop_t *L;
    DWORD error;
    int r, c, count, i, nops = 4 * connections + 8;
    if (connections < 1 || rounds < 0 || clients == NULL || servers == NULL || stats == NULL)
        return ERROR_INVALID_PARAMETER;
    memset(body, 'b', sizeof body);
    socks = malloc(2 * (size_t)connections * sizeof *socks);
    done = malloc((size_t)nops * sizeof *done);
    if (socks == NULL || done == NULL) {
        free(socks);
        free(done);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    for (c = 0; c < connections; c++) {  /* socket 2c: the client, 2c + 1: its server */
        socks[2 * c] = clients[c];
        socks[2 * c + 1] = servers[c];
    }
    error = open_loop(&L, style, socks, 2 * connections, nops, ECHO_SIZE, stats);
    for (r = 0; !error && r < rounds; r++) {
        int echoed = 0;
        for (c = 0; !error && c < connections; c++) {
            if (!(error = start(L, 2 * c + 1, RECV_SERVER, c, NULL, 0, ECHO_SIZE, NULL, &op)))
                error = start(L, 2 * c, SEND, c, message, 2, 0, NULL, &op);
        }
        while (!error && echoed < connections) {
            if ((error = completions(L, done, &count))) break;
            for (i = 0; !error && i < count; i++) {
                op_t *ended = done[i];
                if (ended->error) {
                    error = ended->error;
                } else if (ended->kind == RECV_SERVER) {
                    if (ended->nbytes != ECHO_SIZE) error = ERROR_INVALID_DATA;  /* whole */
                    if (!error) error = start(L, 2 * ended->conn, RECV_CLIENT, ended->conn,
                                              NULL, 0, ECHO_SIZE, NULL, &op);
                    /* The echo goes from a copy in its own op: this one is released below. */
                    if (!error) error = start(L, 2 * ended->conn + 1, SEND, ended->conn,
                                              NULL, 0, ECHO_SIZE, ended->buffer, &op);
                } else if (ended->kind == RECV_CLIENT) {
                    if (ended->nbytes != ECHO_SIZE || memcmp(ended->buffer, header, 8) != 0
                        || memcmp(ended->buffer + 8, body, sizeof body) != 0)
                        error = ERROR_INVALID_DATA;
                    echoed++;
                }
            }
            release_all(L, done, count);
        }
    }
    error = close_loop(L, error);
    free(socks);
    free(done);
    return error;
}
