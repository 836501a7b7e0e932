"""How serve judges a Redis's durability, and the WAITAOF path of the Redis store, with a recording stand-in
for redis-py's client (the installed redis-server is 7.0, which has no WAITAOF; the integration tests run the
appendfsync modes against real servers)."""

import pytest

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.store import redis_durability
from jobs_connector.webhooks.store.event_store import NotDurable
from jobs_connector.webhooks.store.redis_store import RedisEventStore


class Refused(Exception):
    pass


class FakeRedis:
    """The few calls the durability check and the store's writes make; `calls` records them in order."""

    def __init__(self, *, config=None, version="7.2.4", waitaof=(1, 0), script_result=1):
        self.config, self.version, self.waitaof_answer, self.script_result = config, version, waitaof, script_result
        self.calls: list[tuple] = []

    def config_get(self, pattern):
        self.calls.append(("CONFIG GET", pattern))
        if self.config is None:
            raise Refused("unknown command 'CONFIG'")
        return self.config

    def info(self, section):
        self.calls.append(("INFO", section))
        return {"redis_version": self.version}

    def waitaof(self, numlocal, numreplicas, timeout):
        self.calls.append(("WAITAOF", numlocal, numreplicas, timeout))
        if isinstance(self.waitaof_answer, Exception):
            raise self.waitaof_answer
        return list(self.waitaof_answer)

    def register_script(self, source):
        def script(args, client=None):
            (client or self).calls.append(("EVALSHA", args[1]))
            return client.queued(self.script_result) if client else self.script_result
        return script

    def pipeline(self, transaction=True):
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, redis):
        self.redis, self.results = redis, []
        self.calls = redis.calls

    def queued(self, result):
        self.results.append(result)

    def waitaof(self, *args):
        self.calls.append(("WAITAOF", *args))
        self.results.append(list(self.redis.waitaof_answer))

    def execute(self):
        self.calls.append(("EXECUTE",))
        return self.results


@pytest.mark.parametrize("config, version, waitaof, mode", [
    ({"appendonly": "yes", "appendfsync": "always"}, "7.0.15", (1, 0), "always"),
    ({"appendonly": "yes", "appendfsync": "always"}, "7.2.4", (1, 0), "waitaof"),  # held if everysec is set later
    ({b"appendonly": b"yes", b"appendfsync": b"everysec"}, "7.2.4", (1, 0), "waitaof"),
    (None, "7.4.0", (1, 0), "waitaof"),  # CONFIG refused, WAITAOF answers
    ({"appendonly": "yes", "appendfsync": "everysec"}, "7.0.15", (1, 0), ""),
    ({"appendonly": "no", "appendfsync": "always"}, "7.2.4", Refused("appendonly is disabled"), ""),
    (None, "7.0.15", (1, 0), ""),  # CONFIG refused, no WAITAOF: cannot tell
    (None, "7.2.4", Refused("WAITAOF cannot be used when numlocal is set but appendonly is disabled"), ""),
    (None, "7.2.4", (0, 0), ""),
])
def test_the_mode_chosen_for_each_redis(config, version, waitaof, mode):
    found = redis_durability.check(FakeRedis(config=config, version=version, waitaof=waitaof))
    assert found.mode == mode
    assert found.durable == bool(mode) and bool(found.problem) != bool(mode)


def test_each_refusal_names_what_is_wrong():
    problems = [redis_durability.check(FakeRedis(config=config, version=version, waitaof=(0, 0))).problem
                for config, version in [({"appendonly": "no"}, "7.0.0"),
                                        ({"appendonly": "yes", "appendfsync": "no"}, "6.2.0"),
                                        (None, "7.0.0"), (None, "7.2.0")]]
    assert "appendonly is no" in problems[0]
    assert "appendfsync is no" in problems[1] and "6.2.0" in problems[1]
    assert "refuses CONFIG" in problems[2] and "Redis < 7.2" in problems[2]
    assert "refuses CONFIG" in problems[3] and "WAITAOF did not confirm" in problems[3]


def event() -> Event:
    return Event(id=new_id(), flow="f", body={}, received_at=1.0, due_at=1.0, updated_at=1.0)


def store_on(redis: FakeRedis, allow_unsafe=False) -> RedisEventStore:
    store = RedisEventStore(redis, "test")
    store.check_durable(allow_unsafe=allow_unsafe)
    redis.calls.clear()
    return store


def test_with_waitaof_add_and_a_flushed_save_wait_for_the_fsync_in_the_same_round_trip():
    redis = FakeRedis(config={"appendonly": "yes", "appendfsync": "everysec"}, script_result=[b"x", 1])
    store = store_on(redis)
    e = event()
    store.add(e)
    assert redis.calls == [("EVALSHA", e.id), ("WAITAOF", 1, 0, 5000), ("EXECUTE",)]
    redis.calls.clear()
    redis.script_result = 1
    assert store.save(e, flush=True)
    assert redis.calls == [("EVALSHA", e.id), ("WAITAOF", 1, 0, 5000), ("EXECUTE",)]


def test_a_save_that_need_not_be_flushed_does_not_wait():
    redis = FakeRedis(config={"appendonly": "yes", "appendfsync": "everysec"})
    store = store_on(redis)
    e = event()
    assert store.save(e, flush=False)
    assert redis.calls == [("EVALSHA", e.id)]


def test_an_unconfirmed_fsync_is_not_durable():
    redis = FakeRedis(config={"appendonly": "yes", "appendfsync": "everysec"}, script_result=[b"x", 1])
    store = store_on(redis)
    redis.waitaof_answer = (0, 0)
    with pytest.raises(NotDurable, match="WAITAOF"):
        store.add(event())


def test_appendfsync_always_without_waitaof_takes_redis_answer_as_the_fsync():
    redis = FakeRedis(config={"appendonly": "yes", "appendfsync": "always"}, version="7.0.15")
    store = store_on(redis)
    e = event()
    assert store.save(e, flush=True)
    assert redis.calls == [("EVALSHA", e.id)]


def test_refused_unless_allowed_and_then_ready_but_unsynced():
    config = {"appendonly": "yes", "appendfsync": "everysec"}
    with pytest.raises(ConfigurationError, match="appendfsync is everysec.*--allow-unsafe-redis"):
        RedisEventStore(FakeRedis(config=config, version="7.0.15"), "t").check_durable()
    redis = FakeRedis(config=config, version="7.0.15")
    store = store_on(redis, allow_unsafe=True)
    assert store.durability_problem() is None
    redis.calls.clear()
    store.save(event(), flush=True)
    assert [call[0] for call in redis.calls] == ["EVALSHA"]


def test_readiness_sees_a_setting_changed_while_serving():
    redis = FakeRedis(config={"appendonly": "yes", "appendfsync": "always"}, version="7.0.15")
    store = store_on(redis)
    assert store.durability_problem() is None
    redis.config = {"appendonly": "yes", "appendfsync": "everysec"}
    assert "appendfsync is everysec" in store.durability_problem()
