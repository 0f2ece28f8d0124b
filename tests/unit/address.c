/* Unit tests of address parsing: host:port, [v6]:port, unix:/path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "address.h"

static void expect_formats_as(const char *text, const char *want)
{
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	int n = pbrpc_address_resolve(text, a, &err);
	if (n < 1)
		fail_msg("%s: %s", text, err.message);
	char buf[128];
	pbrpc_address_format((struct sockaddr *)&a[0].sa, a[0].len, buf, sizeof buf);
	assert_string_equal(buf, want);
}

static void test_ipv4(void **state)
{
	(void)state;
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	assert_int_equal(pbrpc_address_resolve("127.0.0.1:7420", a, &err), 1);
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a[0].sa;
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 7420);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(a[0].len, sizeof(struct sockaddr_in));
	expect_formats_as("127.0.0.1:7420", "127.0.0.1:7420");
	expect_formats_as("0.0.0.0:0", "0.0.0.0:0");
	expect_formats_as("10.1.2.3:65535", "10.1.2.3:65535");
}

static void test_ipv6(void **state)
{
	(void)state;
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	assert_int_equal(pbrpc_address_resolve("[::1]:80", a, &err), 1);
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a[0].sa;
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 80);
	assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	expect_formats_as("[::1]:80", "[::1]:80");
	expect_formats_as("[2001:db8::5]:7420", "[2001:db8::5]:7420");
	expect_formats_as("[::ffff:127.0.0.1]:1", "[::ffff:127.0.0.1]:1");
}

static void test_unix(void **state)
{
	(void)state;
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	assert_int_equal(pbrpc_address_resolve("unix:/tmp/pbrpc.sock", a, &err), 1);
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a[0].sa;
	assert_int_equal(un->sun_family, AF_UNIX);
	assert_string_equal(un->sun_path, "/tmp/pbrpc.sock");
	expect_formats_as("unix:/tmp/pbrpc.sock", "unix:/tmp/pbrpc.sock");
	expect_formats_as("unix:relative/sock", "unix:relative/sock");
	/* The longest path that fits sun_path (107 bytes + NUL). */
	char text[5 + 108 + 1] = "unix:";
	memset(text + 5, 'p', 107);
	text[5 + 107] = '\0';
	assert_int_equal(pbrpc_address_resolve(text, a, &err), 1);
}

static void test_hostname(void **state)
{
	(void)state;
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	int n = pbrpc_address_resolve("localhost:7420", a, &err);
	assert_true(n >= 1 && n <= PBRPC_ADDRESS_MAX);
	for (int i = 0; i < n; i++) {
		int fam = ((struct sockaddr *)&a[i].sa)->sa_family;
		assert_true(fam == AF_INET || fam == AF_INET6);
	}
}

static void expect_bad(const char *text, const char *in_message)
{
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	int n = pbrpc_address_resolve(text, a, &err);
	if (n != 0)
		fail_msg("'%s' was accepted", text);
	assert_true(err.code != PBRPC_OK);
	assert_true(err.message[0] != '\0');
	if (in_message && !strstr(err.message, in_message))
		fail_msg("'%s': message '%s' lacks '%s'", text, err.message, in_message);
}

static void test_bad_forms(void **state)
{
	(void)state;
	expect_bad("", "bad address");
	expect_bad("noport", "bad address");
	expect_bad(":7420", "bad address");
	expect_bad("127.0.0.1:", "bad port");
	expect_bad("127.0.0.1:65536", "bad port");
	expect_bad("127.0.0.1:-1", "bad port");
	expect_bad("127.0.0.1:12ab", "bad port");
	expect_bad("127.0.0.1:99999999999999999999", "bad port");
	expect_bad("::1:80", "bad address");    /* v6 without brackets */
	expect_bad("[::1]80", "[v6addr]:port"); /* no colon after ] */
	expect_bad("[::1", "[v6addr]:port");
	expect_bad("[::1]:", "bad port");
	expect_bad("[::1]:x", "bad port");
	expect_bad("[not-an-ip]:80", NULL);
	expect_bad("unix:", "empty");
	char longpath[5 + 200 + 1] = "unix:";
	memset(longpath + 5, 'p', 200);
	longpath[205] = '\0';
	expect_bad(longpath, "too long");
	char longhost[400];
	memset(longhost, 'h', 300);
	strcpy(longhost + 300, ":80");
	expect_bad(longhost, NULL);
	expect_bad("no-such-host.invalid:80", "cannot resolve");
	/* err may be NULL */
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	assert_int_equal(pbrpc_address_resolve("junk", a, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),      cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_unix),      cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_bad_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
