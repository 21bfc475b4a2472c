/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor records (FN_REC_SOCK). Included by records.h only. */
#ifndef FALCONET_RECORDS_SOCKET_H
#define FALCONET_RECORDS_SOCKET_H
#endif
