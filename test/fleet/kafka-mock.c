/* librdkafka's mock Kafka cluster (rd_kafka_mock_cluster_new) as a process for the tests:
 * prints the bootstrap servers, then obeys stdin lines and answers "ok" or "error ...":
 *   topic NAME PARTITIONS REPLICAS | leader TOPIC PARTITION BROKER | down BROKER | up BROKER |
 *   rtt BROKER MS (delays the broker's responses; a request is still handled on arrival) | quit
 * It speaks the Kafka protocol over TCP on 127.0.0.1; it is not a Kafka broker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) { fprintf(stderr, "%s\n", err); return 1; }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", err); return 1; }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) { fprintf(stderr, "rd_kafka_mock_cluster_new failed\n"); return 1; }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    char name[256]; int a = 0, b = 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (sscanf(line, "topic %255s %d %d", name, &a, &b) == 3) e = rd_kafka_mock_topic_create(mc, name, a, b);
    else if (sscanf(line, "leader %255s %d %d", name, &a, &b) == 3) e = rd_kafka_mock_partition_set_leader(mc, name, a, b);
    else if (sscanf(line, "down %d", &a) == 1) e = rd_kafka_mock_broker_set_down(mc, a);
    else if (sscanf(line, "up %d", &a) == 1) e = rd_kafka_mock_broker_set_up(mc, a);
    else if (sscanf(line, "rtt %d %d", &a, &b) == 2) e = rd_kafka_mock_broker_set_rtt(mc, a, b);
    else if (strncmp(line, "quit", 4) == 0) break;
    else { printf("error unknown command\n"); fflush(stdout); continue; }
    if (e) printf("error %s\n", rd_kafka_err2str(e)); else printf("ok\n");
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
