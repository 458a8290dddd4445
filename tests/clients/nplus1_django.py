#!/usr/bin/python3
"""nplus1_django.py -- Django ORM endpoints through pgperf, for the N+1
integration test.

    nplus1_django.py HOST PORT setup
    nplus1_django.py HOST PORT run [--sqlcommenter] [--requests N]

`setup` creates the shop app's tables (shop_customer, shop_order,
shop_orderitem, with Django's foreign keys) and fills them.  `run` serves N
requests of each endpoint:

    /orders/items           each order's items lazily: N+1 (one to many)
    /orders/customers       each order's customer lazily: N+1 (many to one)
    /orders/prefetch        prefetch_related('orderitem_set'): no N+1
    /orders/select_related  select_related('customer'): no N+1

Django runs in autocommit: requests are told apart by sqlcommenter tags
(--sqlcommenter, added by a connection execute_wrapper as the
google-sqlcommenter Django middleware does) or by a pause between them.
"""
import sys
import time
import urllib.parse
import uuid

import django
from django.conf import settings

host, port, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
settings.configure(
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": host,
            "PORT": port,
            "NAME": "appdb",
            "USER": "app",
            "PASSWORD": "app-secret",
            "OPTIONS": {"sslmode": "disable"},
        }
    },
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()

from django.db import connection, models  # noqa: E402


class Customer(models.Model):
    name = models.TextField()

    class Meta:
        app_label = "shop"


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    total = models.IntegerField()

    class Meta:
        app_label = "shop"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    sku = models.TextField()
    qty = models.IntegerField()

    class Meta:
        app_label = "shop"


def setup():
    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS shop_orderitem, shop_order, shop_customer CASCADE")
    with connection.schema_editor() as e:
        for m in (Customer, Order, OrderItem):
            e.create_model(m)
    Customer.objects.bulk_create([Customer(id=i, name="c%d" % i) for i in range(1, 11)])
    Order.objects.bulk_create(
        [Order(id=o, customer_id=1 + o % 10, total=10 * o) for o in range(1, 51)])
    OrderItem.objects.bulk_create(
        [OrderItem(order_id=1 + i % 50, sku="s%d" % i, qty=i % 5) for i in range(1, 201)])


def items():
    return sum(len(o.orderitem_set.all()) for o in Order.objects.filter(total__lte=120))


def customers():
    return len({o.customer.name for o in Order.objects.filter(total__lte=120)})


def prefetch():
    qs = Order.objects.filter(total__lte=120).prefetch_related("orderitem_set")
    return sum(len(o.orderitem_set.all()) for o in qs)


def select_related():
    qs = Order.objects.select_related("customer").filter(total__lte=120)
    return len({o.customer.name for o in qs})


current = {"route": None, "trace": None}


def sqlcommenter(execute, sql, params, many, context):
    """Append route and traceparent tags, url-encoded, to every statement."""
    pct = "%%" if params else "%"
    route = urllib.parse.quote(current["route"], safe="").replace("%", pct)
    tp = "00-%s-%s-01" % (current["trace"], uuid.uuid4().hex[:16])
    return execute("%s /*route='%s',traceparent='%s'*/" % (sql, route, tp), params, many, context)


def main():
    if cmd == "setup":
        setup()
        return
    tags = "--sqlcommenter" in args
    nreq = int(args[args.index("--requests") + 1]) if "--requests" in args else 3
    endpoints = (("/orders/items", items, 48), ("/orders/customers", customers, 10),
                 ("/orders/prefetch", prefetch, 48), ("/orders/select_related", select_related, 10))
    for route, endpoint, want in endpoints:
        for _ in range(nreq):
            current["route"], current["trace"] = route, uuid.uuid4().hex
            if tags:
                with connection.execute_wrapper(sqlcommenter):
                    got = endpoint()
            else:
                got = endpoint()
            assert got == want, (route, got, want)
            time.sleep(0.3)  # longer than request_idle_gap_ms
    connection.close()


if __name__ == "__main__":
    main()
