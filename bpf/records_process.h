/* SPDX-License-Identifier: GPL-2.0 */
/* Process/credential/extended event records (FN_REC_PROC). Included by records.h only. */
#ifndef FALCONET_RECORDS_PROCESS_H
#define FALCONET_RECORDS_PROCESS_H
#endif
