/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor programs (names start with sock_). */
#pragma once
#include "common.bpf.h"
