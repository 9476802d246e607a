/* The control: the broken drivers' skeleton with no mistake. Under the verifier (and its
 * double buffering) it must produce no finding at all. */
#include "broken_base.h"
