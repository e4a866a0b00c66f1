/*
 * sanitizer.h - which sanitizer this test binary was built with.  gcc
 * defines __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang 14 defines
 * neither and answers __has_feature() instead, so tests that loosen a
 * memory or mapping bound for a sanitizer's own bookkeeping ask here.
 */
#ifndef SBK_TEST_SANITIZER_H
#define SBK_TEST_SANITIZER_H

#define SBK_TEST_ASAN 0
#define SBK_TEST_TSAN 0

#if defined(__SANITIZE_ADDRESS__)
#undef SBK_TEST_ASAN
#define SBK_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#undef SBK_TEST_TSAN
#define SBK_TEST_TSAN 1
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#undef SBK_TEST_ASAN
#define SBK_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#undef SBK_TEST_TSAN
#define SBK_TEST_TSAN 1
#endif
#endif

#endif /* SBK_TEST_SANITIZER_H */
