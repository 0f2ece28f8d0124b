/* caller.c - see caller.h. */
#include "caller.h"

#include <string.h>

const char *rpcd_caller_name(const pbrpc_call *call)
{
	(void)call;
	return "shared-key";
}

void rpcd_caller_tag(const pbrpc_call *call, char tag[RPCD_CALLER_TAG_LEN + 1])
{
	(void)call;
	/* Only the shared-key handshake exists so far: one identity for all. */
	memset(tag, '0', RPCD_CALLER_TAG_LEN);
	tag[RPCD_CALLER_TAG_LEN] = '\0';
}
