"""Debian's python3-elasticsearch (7.17) against vigil serve; prints one JSON line of results.

Usage: python-client.py URL EVENTS_JSON
"""
import json
import sys

from elasticsearch import Elasticsearch, helpers

url, data = sys.argv[1], json.loads(sys.argv[2])
es = Elasticsearch(url)
index = "py-events"

ok, errors = helpers.bulk(es, ({"_index": index, "_id": d["id"], "_source": d["doc"]} for d in data), raise_on_error=False)
es.indices.refresh(index=index)
count_web1 = es.count(index=index, body={"query": {"term": {"host.name": "web-1"}}})["count"]
search_curl = es.search(index=index, body={"query": {"match": {"process.name": "curl"}}, "size": 0, "track_total_hits": True})["hits"]["total"]["value"]
scanned = sum(1 for _ in helpers.scan(es, index=index, size=45, query={"query": {"match_all": {}}}))
es.update(index=index, id="e7", body={"doc": {"host": {"name": "moved"}}})
updated_pid = es.get(index=index, id="e7")["_source"]["process"]["pid"]
es.delete(index=index, id="e8")
after_delete = es.count(index=index)["count"]
eql_cron = es.eql.search(index=index, body={"query": 'process where process.name == "cron"', "size": 1000})["hits"]["total"]["value"]
terms = es.search(index=index, body={"size": 0, "aggs": {"h": {"terms": {"field": "host.name", "size": 10}}}})
# e7 moved to host "moved": five buckets, the four hosts and it
terms_buckets = len([b for b in terms["aggregations"]["h"]["buckets"] if b["key"] != "moved"])
print(json.dumps({
    "bulk_ok": ok,
    "errors": len(errors) if isinstance(errors, list) else errors,
    "count_web1": count_web1,
    "search_curl": search_curl,
    "scanned": scanned,
    "updated_pid": updated_pid,
    "after_delete": after_delete,
    "eql_cron": eql_cron,
    "terms_buckets": terms_buckets,
}))
