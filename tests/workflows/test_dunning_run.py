import datetime as dt
import json
from tests.workflows.conftest import STANDARD_POLICY, apply_policy
from tests.workflows.ledgers import Customer, import_ledger, invoice_due, invoice

TODAY = dt.date(2026, 3, 2)

def test_scratch(dunning_system):
    apply_policy(STANDARD_POLICY.read_text(), dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    import_ledger(TODAY, [Customer("ACME", phone="+14155550100"), Customer("BERLIN", timezone="Europe/Berlin", country="DE")],
        [invoice_due("I1", "ACME", dt.date(2026, 2, 20)), invoice_due("I2", "ACME", dt.date(2026, 2, 27)),
         invoice_due("I3", "BERLIN", dt.date(2026, 2, 20))])
    print(invoice("I1").attribute_values)
    import time; t=time.time()
    out = dunning_system.run(TODAY)
    print(time.time()-t)
    print(json.dumps(out, indent=1))
    for m in dunning_system.outbox():
        print(m.to_json())
    print(invoice("I1").attribute_values)
