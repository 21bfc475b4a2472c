/* SPDX-License-Identifier: GPL-2.0 */
/* Process monitor programs (names start with proc_). */
#pragma once
#include "common.bpf.h"
