/* The child's side of proto/child.h. */
#include <unistd.h>

#include "child.h"
#include "log.h"

void
child_ready(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	if (write(CHILD_FD_READY, "R", 1) != 1)
		log_debug("%s: master not listening", __func__);
	close(CHILD_FD_READY);
}
