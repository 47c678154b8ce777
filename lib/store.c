// SPDX-License-Identifier: MIT
// PLACEHOLDER: replaced by the store implementation.
#include "store.h"
