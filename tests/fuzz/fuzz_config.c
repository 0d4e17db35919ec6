/*
 * common/config: config_parse of a config file over the defaults. The
 * master hands its children the config as config_write wrote it, so what
 * parses must be written, parsed again without error, and written again
 * byte for byte the same.
 */
#include "config.h"
#include "fuzz.h"

/* cf written to a malloc'd buffer; *len its length. */
static char *
write_config(const struct config *cf, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	FUZZ_ASSERT(fp != NULL);
	FUZZ_ASSERT(config_write(cf, fp) == 0);
	FUZZ_ASSERT(fclose(fp) == 0);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cf, cf2;
	char err[512], err2[512], *text = (char *)fuzz_dup(data, size);
	char *w1, *w2;
	size_t l1, l2;

	config_defaults(&cf);
	err[0] = '\0';
	if (config_parse(&cf, "fuzz.conf", text, size, err, sizeof(err)) != 0) {
		FUZZ_ASSERT(strncmp(err, "fuzz.conf:", 10) == 0);
		free(text);
		return 0;
	}
	(void)config_validate(&cf, err, sizeof(err));

	w1 = write_config(&cf, &l1);
	config_defaults(&cf2);
	if (config_parse(&cf2, "written.conf", w1, l1, err2, sizeof(err2)) != 0) {
		fprintf(stderr, "config_write output rejected: %s\n--\n%s--\n",
		    err2, w1);
		abort();
	}
	w2 = write_config(&cf2, &l2);
	if (l1 != l2 || memcmp(w1, w2, l1) != 0) {
		fprintf(stderr, "config_write differs after a round trip:\n"
		    "--\n%s--\n%s--\n", w1, w2);
		abort();
	}
	free(w1);
	free(w2);
	free(text);
	return 0;
}
