#!/usr/bin/env bash
# A single-node KRaft Kafka broker on 127.0.0.1, for local runs and tests.
#   scripts/kafka/start-broker.sh [PORT] [DATA_DIR]      (defaults: 9092, .kafka/data-PORT)
# Runs in the foreground; Ctrl-C stops it. Restarting on the same DATA_DIR keeps the topics.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${1:-9092}
ctl=$((port + 1))
data=${2:-$root/.kafka/data-$port}
"$root/scripts/kafka/fetch.sh"
mkdir -p "$data"
cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
PROPS
cp="$root/.kafka/lib/*"
export KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:$root/scripts/kafka/log4j.properties"
if [ ! -f "$data/logs/meta.properties" ]; then
  java -cp "$cp" $KAFKA_LOG4J_OPTS kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
    -c "$data/server.properties" --ignore-formatted >/dev/null
fi
exec java -Xmx512m -XX:+UseSerialGC -cp "$cp" $KAFKA_LOG4J_OPTS kafka.Kafka "$data/server.properties"
