/* SPDX-License-Identifier: MIT */
/*
 * The main() of every unit test binary: runs the suite that the file defines with
 * suite(), prints Check's summary, exits non-zero on any failure.
 */
#ifndef CHAT_TESTS_CHECK_MAIN_H
#define CHAT_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static Suite	*suite(void);

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
