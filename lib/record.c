/* record.c - the record envelope parser: stateless, so any byte split works. */
#include "record.h"

int pbrpc_record_check(const uint8_t *p, size_t n, uint32_t max_body, uint32_t *body_len)
{
	if (n < PBRPC_RECORD_HEADER)
		return PBRPC_RECORD_SHORT;
	uint32_t len = pbrpc_get_be32(p);
	*body_len = len;
	if (len == 0 || len > max_body)
		return PBRPC_RECORD_BAD;
	return n - PBRPC_RECORD_HEADER >= len ? PBRPC_RECORD_READY : PBRPC_RECORD_SHORT;
}
