/* svc_echo.c - pbrpc.echo.Echo: returns what it is sent, optionally upper-cased. */
#include <stdint.h>
#include <stdlib.h>

#include "pbrpc/echo.pbrpc.h"
#include "services.h"

/* ASCII only, as the original server did: bytes are not text in any encoding. */
static void ascii_upper(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = src[i];
		dst[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
	}
}

static int echo_say(pbrpc_call *call, const Pbrpc__Echo__EchoRequest *request,
                    Pbrpc__Echo__EchoReply *reply)
{
	/* The request outlives the packing of the reply: no copy unless we change the bytes. */
	reply->data = request->data;
	if (!request->upper || request->data.len == 0)
		return PBRPC_OK;
	uint8_t *upper = pbrpc_call_alloc(call, request->data.len);
	if (!upper) {
		pbrpc_call_set_message(call, "out of memory");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	ascii_upper(upper, request->data.data, request->data.len);
	reply->data.data = upper;
	return PBRPC_OK;
}

/* Sends one reply per message. The upper-cased copy is malloc'ed and freed
 * at once: pbrpc_call_alloc memory would pile up for the life of a long chat. */
static void echo_chat_message(pbrpc_call *call, const Pbrpc__Echo__EchoRequest *msg)
{
	Pbrpc__Echo__EchoReply reply = PBRPC__ECHO__ECHO_REPLY__INIT;
	uint8_t *upper = NULL;
	reply.data = msg->data;
	if (msg->upper && msg->data.len > 0) {
		upper = malloc(msg->data.len);
		if (!upper) {
			pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		ascii_upper(upper, msg->data.data, msg->data.len);
		reply.data.data = upper;
	}
	pbrpc_status status = pbrpc_call_send(call, &reply.base);
	free(upper);
	if (status != PBRPC_OK) {
		pbrpc_call_finish(call, status, "cannot send reply");
		return;
	}
	/* A client that sends faster than it reads: stop reading until it drains. */
	if (!pbrpc_call_writable(call))
		pbrpc_call_pause(call, 1);
}

static void echo_chat(pbrpc_call *call, pbrpc_event event, const Pbrpc__Echo__EchoRequest *msg)
{
	switch (event) {
	case PBRPC_EV_START: break;
	case PBRPC_EV_MESSAGE:
		if (msg)
			echo_chat_message(call, msg);
		break;
	case PBRPC_EV_WRITABLE: pbrpc_call_pause(call, 0); break;
	case PBRPC_EV_HALF_CLOSE: pbrpc_call_finish(call, PBRPC_OK, NULL); break;
	case PBRPC_EV_CANCEL: break; /* nothing of ours to free */
	}
}

static const pbrpc_echo_echo_handlers echo_handlers = {
    .say = echo_say,
    .chat = echo_chat,
};

pbrpc_status rpcd_echo_register(pbrpc_server *s, pbrpc_error *err)
{
	return pbrpc_echo_echo_register(s, &echo_handlers, NULL, err);
}
