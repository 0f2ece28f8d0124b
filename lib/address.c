/* address.c - parsing and printing the three address forms. */
#include "address.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int resolve_unix(const char *path, pbrpc_address *out, pbrpc_error *err)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof un->sun_path) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "unix socket path %s",
		                len ? "too long" : "empty");
		return 0;
	}
	memset(out, 0, sizeof *out);
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, len + 1);
	out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 1;
}

int pbrpc_address_resolve(const char *text, pbrpc_address *out, pbrpc_error *err)
{
	char host[256];
	const char *port;

	if (strncmp(text, "unix:", 5) == 0)
		return resolve_unix(text + 5, out, err);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) {
			pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
			                "bad address '%s' (want [v6addr]:port)", text);
			return 0;
		}
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || colon == text || (size_t)(colon - text) >= sizeof host ||
		    memchr(text, ':', (size_t)(colon - text))) {
			pbrpc_error_set(
			    err, PBRPC_INVALID_ARGUMENT,
			    "bad address '%s' (want host:port, [v6addr]:port or unix:/path)", text);
			return 0;
		}
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = colon + 1;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end || p > 65535) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "bad port in '%s'", text);
		return 0;
	}

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
		hints.ai_flags =
		    AI_NUMERICSERV; /* loopback-only hosts have no "configured" family */
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0) {
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "cannot resolve %s: %s", host,
		                gai_strerror(rc));
		return 0;
	}
	int n = 0;
	for (struct addrinfo *ai = res; ai && n < PBRPC_ADDRESS_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof out[n].sa)
			continue;
		memset(&out[n], 0, sizeof out[n]);
		memcpy(&out[n].sa, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "no usable address for %s", host);
	return n;
}

void pbrpc_address_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t max = len > offsetof(struct sockaddr_un, sun_path)
		                 ? len - offsetof(struct sockaddr_un, sun_path)
		                 : 0;
		snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path, max), un->sun_path);
	} else {
		snprintf(buf, size, "?");
	}
}
