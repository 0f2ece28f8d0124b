/* Unit tests of rpcd_name_list: the accepted environment-variable names of
 * rpcd --exec-env and a key's env= option. The source is compiled in here:
 * unit tests link libpbrpc only, and the list is rpcd's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../rpcd/name_list.c"

static int matches(const rpcd_name_list *l, const char *name)
{
	return rpcd_name_list_match(l, name, strlen(name));
}

static void test_exact_and_globs(void **state)
{
	(void)state;
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	assert_int_equal(rpcd_name_list_parse(&l, "LANG,LC_*,TZ,A?C", ",", &err), 0);
	assert_int_equal(l.n, 4);
	assert_true(matches(&l, "LANG"));
	assert_true(matches(&l, "TZ"));
	assert_true(matches(&l, "LC_ALL"));
	assert_true(matches(&l, "LC_"));
	assert_true(matches(&l, "ABC"));
	assert_false(matches(&l, "AC"));
	assert_false(matches(&l, "ABBC"));
	assert_false(matches(&l, "LANGUAGE")); /* no implicit prefix match */
	assert_false(matches(&l, "XLANG"));
	assert_false(matches(&l, "lang")); /* case matters, as in the environment */
	assert_false(matches(&l, "TAR_OPTIONS"));
	assert_false(matches(&l, ""));
	rpcd_name_list_free(&l);
}

static void test_name_is_length_bounded(void **state)
{
	(void)state;
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	assert_int_equal(rpcd_name_list_parse(&l, "TZ", ",", &err), 0);
	/* The name is the part of "NAME=VALUE" before '=': nothing after counts. */
	const char *entry = "TZ=UTC";
	assert_true(rpcd_name_list_match(&l, entry, 2));
	assert_false(rpcd_name_list_match(&l, entry, 3));
	assert_false(rpcd_name_list_match(&l, entry, 1));
	rpcd_name_list_free(&l);
}

static void test_star_backtracking(void **state)
{
	(void)state;
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	/* "," is no separator for a key's list: it is part of a (bad) name. */
	assert_int_equal(rpcd_name_list_parse(&l, "LANG,LC_*", ":", &err), -1);
	assert_int_equal(l.n, 0);
	assert_int_equal(rpcd_name_list_parse(&l, "A*B*C", ":", &err), 0);
	assert_true(matches(&l, "ABC"));
	assert_true(matches(&l, "AxxBxxBxxC"));
	assert_true(matches(&l, "ABCBC"));
	assert_false(matches(&l, "AxxBxxCx"));
	assert_false(matches(&l, "ACB"));
	rpcd_name_list_free(&l);
	assert_int_equal(rpcd_name_list_parse(&l, "*", ":", &err), 0);
	assert_true(matches(&l, "ANYTHING_AT_ALL"));
	rpcd_name_list_free(&l);
}

static void test_colon_separator_and_repeats(void **state)
{
	(void)state;
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	assert_int_equal(rpcd_name_list_parse(&l, "LANG:LC_*", ":", &err), 0);
	assert_int_equal(rpcd_name_list_parse(&l, "TZ", ":", &err), 0); /* appends */
	assert_int_equal(l.n, 3);
	assert_true(matches(&l, "TZ"));
	assert_true(matches(&l, "LC_CTYPE"));
	rpcd_name_list_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.patterns);
	rpcd_name_list_free(&l); /* twice is harmless */
}

/* refused TEXT: parse fails, names the bad pattern, and keeps what was there. */
static void refused(const char *text, const char *named, const char *why)
{
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	assert_int_equal(rpcd_name_list_parse(&l, "KEEP", ",", &err), 0);
	assert_int_equal(rpcd_name_list_parse(&l, text, ",", &err), -1);
	assert_int_equal(err.code, PBRPC_INVALID_ARGUMENT);
	if (!strstr(err.message, named) || !strstr(err.message, why))
		fail_msg("'%s': message '%s' lacks '%s' / '%s'", text, err.message, named, why);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.patterns[0], "KEEP");
	assert_false(matches(&l, "GOOD"));
	rpcd_name_list_free(&l);
}

static void test_bad_patterns(void **state)
{
	(void)state;
	refused("", "''", "empty name");
	refused("GOOD,,LANG", "''", "empty name");
	refused("GOOD,", "''", "empty name");
	refused(",GOOD", "''", "empty name");
	refused("GOOD,TAR-OPTIONS", "'TAR-OPTIONS'", "not an environment variable name");
	refused("1ABC", "'1ABC'", "starts with a digit");
	refused("LC_[A-Z]*", "'LC_[A-Z]*'", "not an environment variable name");
	refused("A=B", "'A=B'", "not an environment variable name");
	refused("A B", "'A B'", "not an environment variable name");
	refused("A\nB", "'A?B'", "not an environment variable name"); /* shown printable */
	refused("\xc3\xa9T\xc3\xa9",
	        "'?"
	        "?T?"
	        "?'",
	        "not an environment variable name");
	char long_name[RPCD_NAME_PATTERN_MAX + 2];
	memset(long_name, 'A', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	refused(long_name, "...'", "name too long");
}

static void test_limit_on_count(void **state)
{
	(void)state;
	rpcd_name_list l = {0};
	pbrpc_error err = {0};
	for (int i = 0; i < RPCD_NAME_LIST_MAX; i++)
		assert_int_equal(rpcd_name_list_parse(&l, "V", ",", &err), 0);
	assert_int_equal(rpcd_name_list_parse(&l, "W", ",", &err), -1);
	assert_non_null(strstr(err.message, "too many names"));
	assert_int_equal(l.n, RPCD_NAME_LIST_MAX);
	rpcd_name_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_and_globs),
	    cmocka_unit_test(test_name_is_length_bounded),
	    cmocka_unit_test(test_star_backtracking),
	    cmocka_unit_test(test_colon_separator_and_repeats),
	    cmocka_unit_test(test_bad_patterns),
	    cmocka_unit_test(test_limit_on_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
