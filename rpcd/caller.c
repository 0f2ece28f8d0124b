/* caller.c - see caller.h. */
#include "caller.h"

#include <string.h>

#include <sodium.h>

const char *rpcd_caller_name(const pbrpc_call *call)
{
	return pbrpc_call_conn_name(call);
}

void rpcd_caller_tag(const pbrpc_call *call, char tag[RPCD_CALLER_TAG_LEN + 1])
{
	const pbrpc_peer *peer = pbrpc_call_client(call);
	uint8_t digest[RPCD_CALLER_TAG_LEN / 2];
	if (!peer->has_key) { /* every shared-key client is the same client */
		memset(tag, '0', RPCD_CALLER_TAG_LEN);
		tag[RPCD_CALLER_TAG_LEN] = '\0';
		return;
	}
	crypto_generichash(digest, sizeof digest, peer->key, 32, NULL, 0);
	sodium_bin2hex(tag, RPCD_CALLER_TAG_LEN + 1, digest, sizeof digest);
}
