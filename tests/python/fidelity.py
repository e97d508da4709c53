"""Drives the HubSpot simulator with HubSpot's official Python client (hubspot-api-client): every call must
deserialise into the client's models without error. Run by tests/tests/python_client.rs with SIM_URL and SIM_TOKEN."""

import os
import sys

from hubspot import HubSpot
from hubspot.crm.associations.v4 import AssociationSpec, BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.associations.v4.schema import (
    ApiException as SchemaApiException,
    PublicAssociationDefinitionCreateRequest,
    PublicAssociationDefinitionUpdateRequest,
)

from hubspot.crm.objects import PublicObjectSearchRequest as ObjectSearchRequest
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInputForCreate
from hubspot.crm.schemas import ObjectSchemaEgg, ObjectTypeDefinitionLabels, ObjectTypePropertyCreate
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyUpdate
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

client = HubSpot(access_token=os.environ["SIM_TOKEN"], host=os.environ["SIM_URL"])
checks = []


def check(name, condition):
    checks.append(name)
    if not condition:
        print(f"FAILED: {name}", file=sys.stderr)
        sys.exit(1)


page = client.crm.contacts.basic_api.get_page(limit=5, properties=["email", "lifecyclestage"], associations=["companies"])
check("list contacts", len(page.results) == 5 and page.paging.next.after)
first = page.results[0]
check("string properties", isinstance(first.properties["hs_object_id"], str))
page2 = client.crm.contacts.basic_api.get_page(limit=5, after=page.paging.next.after)
check("next page", page2.results[0].id != first.id)

contact = client.crm.contacts.basic_api.get_by_id(first.id, properties=["firstname", "lastname"])
check("read contact", contact.id == first.id and contact.created_at is not None)

created = client.crm.contacts.basic_api.create(
    SimplePublicObjectInputForCreate(properties={"email": "fidelity@example.com", "firstname": "Fi"})
)
check("create contact", created.properties["email"] == "fidelity@example.com")
updated = client.crm.contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"lastname": "Delity"}))
check("update contact", updated.properties["lastname"] == "Delity" and updated.updated_at >= created.updated_at)

search = client.crm.contacts.search_api.do_search(
    PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "email", "operator": "EQ", "value": "fidelity@example.com"}]}],
        sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}],
        properties=["email"],
        limit=10,
    )
)
check("search contacts", search.total == 1 and search.results[0].id == created.id)

batch = client.crm.contacts.batch_api.read(
    BatchReadInputSimplePublicObjectId(inputs=[{"id": first.id}, {"id": created.id}], properties=["email"], properties_with_history=[])
)
check("batch read", sorted(r.id for r in batch.results) == sorted([first.id, created.id]))

companies = client.crm.companies.basic_api.get_page(limit=3, properties=["domain", "industry"])
check("list companies", len(companies.results) == 3)
company_id = companies.results[0].id
deals = client.crm.deals.basic_api.get_page(limit=3, properties=["amount", "dealstage"])
check("list deals", len(deals.results) == 3)
tickets = client.crm.tickets.basic_api.get_page(limit=3)
check("list tickets", len(tickets.results) >= 1)

client.crm.associations.v4.basic_api.create_default("contacts", created.id, "companies", company_id)
assoc = client.crm.associations.v4.basic_api.get_page("contacts", created.id, "companies")
# HubSpot sends toObjectId as a number; the client's model keeps it as a string.
check("associate (v4)", [str(r.to_object_id) for r in assoc.results] == [company_id])
check("association types", assoc.results[0].association_types[0].type_id == 279)
batch_assoc = client.crm.associations.v4.batch_api.get_page(
    "companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": company_id}])
)
check("batch associations (v4)", any(str(t.to_object_id) == created.id for t in batch_assoc.results[0].to))

pipelines = client.crm.pipelines.pipelines_api.get_all("deals")
check("pipelines", any(p.id == "default" and len(p.stages) == 7 for p in pipelines.results))
owners = client.crm.owners.owners_api.get_page(limit=3)
check("owners", len(owners.results) == 3 and owners.results[0].email)

definitions = client.crm.properties.core_api.get_all(object_type="contacts")
by_name = {p.name: p for p in definitions.results}
check("properties", len(by_name["lifecyclestage"].options) == 8 and by_name["lifecyclestage"].hubspot_defined)
check("property metadata", by_name["createdate"].modification_metadata.read_only_value and by_name["createdate"].type == "datetime")
check("custom properties", not by_name["tier"].hubspot_defined and [o.label for o in by_name["tier"].options] == ["Gold", "Silver", "Bronze"])
made = client.crm.properties.core_api.create(
    object_type="contacts",
    property_create=PropertyCreate(
        name="fidelity_choice",
        label="Fidelity choice",
        type="enumeration",
        field_type="select",
        group_name="contactinformation",
        options=[OptionInput(label="One", value="one", display_order=0, hidden=False)],
    ),
)
check("create property", made.name == "fidelity_choice" and made.options[0].value == "one" and made.created_at is not None)
changed = client.crm.properties.core_api.update(
    object_type="contacts", property_name="fidelity_choice", property_update=PropertyUpdate(label="Fidelity")
)
check("update property", changed.label == "Fidelity")
read = client.crm.properties.core_api.get_by_name(object_type="contacts", property_name="fidelity_choice")
check("read property", read.label == "Fidelity")
chosen = client.crm.contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"fidelity_choice": "one"}))
check("write custom property", chosen.properties["fidelity_choice"] == "one")
client.crm.properties.core_api.archive(object_type="contacts", property_name="fidelity_choice")
archived_definitions = client.crm.properties.core_api.get_all(object_type="contacts", archived=True)
check("archive property", [p.name for p in archived_definitions.results] == ["fidelity_choice"])

# Association labels: defined, used on a link (each direction with its own type id and label), renamed, refused
# deletion while in use, deleted once the link is gone.
labels_api = client.crm.associations.v4.schema.definitions_api
listed = labels_api.get_all("contacts", "companies")
check("association labels", any(t.type_id == 279 and t.category == "HUBSPOT_DEFINED" for t in listed.results))
made_label = labels_api.create(
    "contacts",
    "companies",
    PublicAssociationDefinitionCreateRequest(label="Billing contact", name="billing_contact", inverse_label="Billed company"),
)
forward, inverse = made_label.results[0], made_label.results[1]
check(
    "create association label",
    forward.category == "USER_DEFINED" and forward.label == "Billing contact" and inverse.label == "Billed company",
)
spec = [AssociationSpec(association_category="USER_DEFINED", association_type_id=forward.type_id)]
linked = client.crm.associations.v4.basic_api.create("contacts", created.id, "companies", company_id, spec)
check("labelled association", linked.labels == ["Billing contact"])
from_company = client.crm.associations.v4.basic_api.get_page("companies", company_id, "contacts")
entry = next(r for r in from_company.results if str(r.to_object_id) == created.id)
check(
    "labelled association from the other end",
    any(t.type_id == inverse.type_id and t.label == "Billed company" for t in entry.association_types),
)
labels_api.update(
    "contacts",
    "companies",
    PublicAssociationDefinitionUpdateRequest(association_type_id=forward.type_id, label="Invoice contact"),
)
renamed = client.crm.associations.v4.basic_api.get_page("contacts", created.id, "companies")
check("rename association label", any(t.label == "Invoice contact" for t in renamed.results[0].association_types))
try:
    labels_api.remove("contacts", "companies", forward.type_id)
    kept = False
except SchemaApiException as e:
    kept = e.status == 400
check("association label in use is kept", kept)
client.crm.associations.v4.basic_api.archive("contacts", created.id, "companies", company_id)
labels_api.remove("contacts", "companies", forward.type_id)
remaining = labels_api.get_all("contacts", "companies").results
check("delete association label", all(t.type_id != forward.type_id for t in remaining))

schemas = client.crm.schemas.core_api.get_all()
machines = next(s for s in schemas.results if s.name == "machines")
check("list schemas", machines.object_type_id.startswith("2-") and any(p.name == "machine_name" for p in machines.properties))
schema = client.crm.schemas.core_api.get_by_id(object_type=machines.fully_qualified_name)
check("read schema", schema.object_type_id == machines.object_type_id and schema.required_properties == ["machine_name"])
widgets = client.crm.schemas.core_api.create(
    ObjectSchemaEgg(
        name="fidelity_widgets",
        labels=ObjectTypeDefinitionLabels(singular="Widget", plural="Widgets"),
        primary_display_property="widget_name",
        required_properties=["widget_name"],
        searchable_properties=["widget_name"],
        properties=[ObjectTypePropertyCreate(name="widget_name", label="Widget name", type="string", field_type="text")],
        associated_objects=["COMPANY"],
    )
)
check("create schema", widgets.object_type_id.startswith("2-") and len(widgets.associations) == 2)
machine = client.crm.objects.basic_api.create(
    machines.object_type_id,
    ObjectInputForCreate(properties={"machine_name": "Fidelity press", "serial_number": "SN-FID-1", "model": "mx200"}),
)
check("create custom record", machine.properties["machine_name"] == "Fidelity press")
got = client.crm.objects.basic_api.get_by_id(machines.object_type_id, machine.id, properties=["serial_number", "model"])
check("read custom record", got.properties["serial_number"] == "SN-FID-1" and got.properties["model"] == "mx200")
found = client.crm.objects.search_api.do_search(
    machines.object_type_id, ObjectSearchRequest(query="fidelity", properties=["machine_name"], limit=10)
)
check("search custom records", [r.id for r in found.results] == [machine.id])
to_company = next(
    int(a.id) for a in machines.associations if a.from_object_type_id == machines.object_type_id and a.to_object_type_id == "0-2"
)
client.crm.associations.v4.basic_api.create(
    machines.object_type_id,
    machine.id,
    "companies",
    company_id,
    [AssociationSpec(association_category="USER_DEFINED", association_type_id=to_company)],
)
linked = client.crm.associations.v4.basic_api.get_page(machines.object_type_id, machine.id, "companies")
check(
    "associate custom record",
    [str(r.to_object_id) for r in linked.results] == [company_id] and linked.results[0].association_types[0].type_id == to_company,
)
back = client.crm.associations.v4.basic_api.get_page("companies", company_id, machines.object_type_id)
check("association read from the company", machine.id in [str(r.to_object_id) for r in back.results])

client.crm.contacts.basic_api.archive(created.id)
archived = client.crm.contacts.basic_api.get_by_id(created.id, archived=True)
check("archive", archived.archived)

print(f"ok: {len(checks)} checks")
