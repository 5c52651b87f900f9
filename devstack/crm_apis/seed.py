"""The records each CRM double starts with, and the credentials it accepts.

One complete deal (or contract) per CRM, with its line items, company, contacts and owner, in the
vendor's own wire shape. They are the same deals the webhook samples in devstack/crm_samples
describe (same ids, names and amounts), so a sample webhook and a read-back from the double agree.
All ids, tokens and secrets are made up for local use.
"""

from __future__ import annotations

from typing import Any

Records = dict[str, dict[str, dict[str, Any]]]

# -- credentials the doubles accept ------------------------------------------------------------------

CREDENTIALS: dict[str, dict[str, str]] = {
    # A private-app token (HubSpot's "pat-<region>-…" form); sent as Authorization: Bearer.
    "hubspot": {"access_token": "pat-na1-5e1f0c2a-7d43-4b8e-9a61-0d0ub1e00001"},
    # A Pipedrive API token (40 hex characters); sent as x-api-token (or ?api_token=).
    "pipedrive": {"api_token": "0d0ab1e0c0ffee00signbridge0000devdouble0"},
    # A Salesforce session id starts with the org's 15-character id and "!".
    "salesforce": {
        "access_token": "00D5g000004XyZ1!AQ4AQSignbridgeDevDoubleSession000000000000",
        "refresh_token": "5Aep861signbridgeDevDoubleRefreshToken000000",
        "client_id": "3MVG9signbridge.dev.double.consumer.key",
        "client_secret": "signbridge-dev-double-consumer-secret",
    },
    # Zoho: a refresh token mints access tokens at /oauth/v2/token; the seeded access token also works.
    "zoho": {
        "client_id": "1000.SIGNBRIDGEDEVDOUBLE00000000000",
        "client_secret": "signbridgedevdoublezohoclientsecret0000000",
        "refresh_token": "1000.5e1f0c2a7d434b8e9a610d0ab1e00001.8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f",
        "access_token": "1000.0d0ab1e0c0ffee00000000000000seed.5e1f0c2a7d434b8e9a610d0ab1e00001",
    },
    # 纷享销客: app credentials for both token styles; corpId/openUserId for the legacy body style,
    # ea/userId for the header style.
    "fxiaoke": {
        "app_id": "FSAID_131a7e2",
        "app_secret": "5e1f0c2a7d434b8e9a610d0ab1e00001",
        "permanent_code": "8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F",
        "corp_id": "FSCID_5E1F0C2A7D434B8E9A610D0AB1E00001",
        "open_user_id": "FSUID_8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F",
        "ea": "735421",
        "user_id": "1000",
    },
}

# -- the seeded record ids (what the stack's state file publishes as crm_apis_seed) -------------------

SEED_IDS: dict[str, dict[str, Any]] = {
    "hubspot": {"deal": "18347261953", "line_items": ["7781230001", "7781230002"], "company": "9120044711",
                "contacts": ["551200301", "551200302"], "owner": "83920154"},
    "pipedrive": {"deal": 4821, "deal_products": [9101], "organization": 388, "person": 1207,
                  "user": 13053568},
    "salesforce": {"contract": "8005g00000BcDeFAAV", "opportunity": "0065g00000OpAbCAAV",
                   "opportunity_line_items": ["00k5g00000LnAbCAAV"], "account": "0015g00000XyZaBAAV",
                   "contact": "0035g00000AbCdEAAV", "owner": "0055g00000Owner1AAA"},
    "zoho": {"deal": "5725767000002894011", "products": ["5725767000002860001", "5725767000002860002"],
             "account": "5725767000002871001", "contact": "5725767000002880001", "owner": "5725767000000412001"},
    "fxiaoke": {"contract": "6745a1f2e4b0c91d2a3f8e71",
                "contract_lines": ["6745a1f2e4b0c91d2a3f8e72", "6745a1f2e4b0c91d2a3f8e73"],
                "account": "6732b0c1e4b0a8f31c2d4e55", "contact": "6732b0c1e4b0a8f31c2d4e60", "owner": "1000"},
}


# -- HubSpot (CRM v3): every property value is a string ------------------------------------------------


def hubspot() -> Records:
    created, updated = "2026-11-20T03:12:44.120Z", "2026-11-26T02:15:07.531Z"

    def obj(object_id: str, properties: dict[str, str], *, modified_key: str = "hs_lastmodifieddate",
            associations: dict[str, list[str]] | None = None) -> dict[str, Any]:
        props = {"hs_object_id": object_id, "createdate": created, modified_key: updated, **properties}
        record: dict[str, Any] = {"id": object_id, "properties": props, "createdAt": created, "updatedAt": updated,
                                  "archived": False}
        if associations:
            record["associations"] = associations
        return record

    deal_id = SEED_IDS["hubspot"]["deal"]
    return {
        "deals": {deal_id: obj(deal_id, {
            "dealname": "Smart lock rollout, Hangzhou Xinhe",
            "amount": "128000.00",
            "deal_currency_code": "CNY",
            "dealstage": "contractsent",
            "pipeline": "default",
            "closedate": "2026-12-01T00:00:00Z",
            "hubspot_owner_id": "83920154",
            "contract_number": "HT-2026-0211",
            "contract_type": "sales",
            "contract_language": "en",
            "contract_signing_date": "2026-12-01",
            "contract_start_date": "2026-12-01",
            "contract_end_date": "2027-11-30",
            "auto_renew": "false",
            "renewal_notice_days": "30",
            "payment_method": "bank_transfer",
            "payment_terms": "30% within 10 days of signing; the balance within 30 days of acceptance.",
            "delivery_date": "2027-01-15",
            "delivery_place": "Warehouse 1, Cangqian Street, Yuhang District, Hangzhou",
            "delivery_terms": "Seller ships; freight included in the price.",
            "after_sales_terms": "24-month warranty from acceptance; 24/7 phone support, on site within 48 hours.",
            "signature_status": "",
        }, associations={"companies": ["9120044711"], "contacts": ["551200301", "551200302"],
                         "line_items": ["7781230001", "7781230002"]})},
        "line_items": {
            "7781230001": obj("7781230001", {
                "name": "Y3 smart lock", "description": "Fingerprint + PIN, 304 stainless steel",
                "quantity": "150", "price": "640.00", "amount": "96000.00", "hs_sku": "Y3-SS", "unit": "set",
                "hs_product_id": "1290031101",
            }, associations={"deals": [deal_id]}),
            "7781230002": obj("7781230002", {
                "name": "G1 smart gateway", "description": "Zigbee 3.0, PoE",
                "quantity": "100", "price": "320.00", "amount": "32000.00", "hs_sku": "G1-POE", "unit": "unit",
                "hs_product_id": "1290031102",
            }, associations={"deals": [deal_id]}),
        },
        "companies": {"9120044711": obj("9120044711", {
            "name": "Hangzhou Xinhe Trading Co., Ltd.", "domain": "xinhe.example",
            "address": "200 Wensan Road, Xihu District", "city": "Hangzhou", "state": "Zhejiang",
            "zip": "310012", "country": "China", "phone": "+86 571 5555 0200",
        }, associations={"deals": [deal_id]})},
        "contacts": {
            "551200301": obj("551200301", {
                "firstname": "Qiang", "lastname": "Li", "email": "li.qiang@xinhe.example",
                "phone": "+86 571 5555 0202", "jobtitle": "General Manager",
            }, modified_key="lastmodifieddate", associations={"deals": [deal_id]}),
            "551200302": obj("551200302", {
                "firstname": "Mei", "lastname": "Zhao", "email": "zhao.mei@xinhe.example",
                "phone": "+86 571 5555 0203", "jobtitle": "Finance Manager",
            }, modified_key="lastmodifieddate", associations={"deals": [deal_id]}),
        },
        "owners": {"83920154": {
            "id": "83920154", "email": "wang.min@yunti.example", "type": "PERSON", "firstName": "Min",
            "lastName": "Wang", "userId": 61830217, "userIdIncludingInactive": 61830217,
            "createdAt": "2025-03-04T08:00:00Z", "updatedAt": "2026-06-01T08:00:00Z", "archived": False,
            "teams": [{"id": "4417", "name": "East China sales", "primary": True}],
        }},
    }


# -- Pipedrive (API v2 shapes; users and v1 fields in their v1 shapes) ------------------------------------

PIPEDRIVE_FIELDS: list[dict[str, Any]] = [
    # (field_code, name, type, options): the account's custom deal fields (keys as in
    # devstack/crm_samples/pipedrive_custom_fields.json) plus two option fields.
    {"field_code": "5b1e0c6f9a3d4e27b8c1f0a2d3e4f5a6b7c8d9e0", "field_name": "Contract number",
     "field_type": "varchar"},
    {"field_code": "a8c2e4f6b0d1e3f5a7c9b1d3e5f7a9c1b3d5e7f9", "field_name": "Contract language",
     "field_type": "varchar"},
    {"field_code": "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0", "field_name": "Signing date", "field_type": "date"},
    {"field_code": "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3", "field_name": "Start date", "field_type": "date"},
    {"field_code": "e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6", "field_name": "End date", "field_type": "date"},
    {"field_code": "f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9", "field_name": "Counterparty name",
     "field_type": "varchar"},
    {"field_code": "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b", "field_name": "Counterparty address",
     "field_type": "address"},
    {"field_code": "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c", "field_name": "Signer name", "field_type": "varchar"},
    {"field_code": "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d", "field_name": "Signer email", "field_type": "varchar"},
    {"field_code": "3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e", "field_name": "Product name", "field_type": "varchar"},
    {"field_code": "4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f", "field_name": "Product specification",
     "field_type": "varchar"},
    {"field_code": "5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a", "field_name": "Quantity", "field_type": "double"},
    {"field_code": "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b", "field_name": "Unit price", "field_type": "monetary"},
    {"field_code": "7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c", "field_name": "Payment method",
     "field_type": "varchar"},
    {"field_code": "8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d", "field_name": "Payment terms", "field_type": "text"},
    {"field_code": "9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Delivery date", "field_type": "date"},
    {"field_code": "ad0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Delivery place",
     "field_type": "varchar"},
    {"field_code": "bd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "After-sales terms",
     "field_type": "text"},
    {"field_code": "cd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Owner name", "field_type": "varchar"},
    {"field_code": "dd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Owner email", "field_type": "varchar"},
    {"field_code": "ed0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Contract type", "field_type": "enum",
     "options": [{"id": 31, "label": "Sales"}, {"id": 32, "label": "Service"}, {"id": 33, "label": "Partner"},
                 {"id": 34, "label": "Supplier"}]},
    {"field_code": "fd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "field_name": "Signature status",
     "field_type": "enum",
     "options": [{"id": 41, "label": "Not sent"}, {"id": 42, "label": "Sent"}, {"id": 43, "label": "Signed"},
                 {"id": 44, "label": "Declined"}, {"id": 45, "label": "Voided"}]},
    {"field_code": "0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", "field_name": "Delivery regions", "field_type": "set",
     "options": [{"id": 51, "label": "Berlin"}, {"id": 52, "label": "Hamburg"}, {"id": 53, "label": "Munich"}]},
    {"field_code": "1e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", "field_name": "Envelope id", "field_type": "varchar"},
    {"field_code": "2f1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", "field_name": "Signed document",
     "field_type": "varchar"},
    {"field_code": "3f1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", "field_name": "Signed on", "field_type": "date"},
]


def pipedrive() -> Records:
    deal_id = SEED_IDS["pipedrive"]["deal"]
    custom = {
        "5b1e0c6f9a3d4e27b8c1f0a2d3e4f5a6b7c8d9e0": "SO-2026-1187",
        "a8c2e4f6b0d1e3f5a7c9b1d3e5f7a9c1b3d5e7f9": "en",
        "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0": "2026-12-01",
        "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3": "2026-12-01",
        "e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6": "2027-11-30",
        "f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9": "Acme Facilities GmbH",
        "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b": {
            "value": "Friedrichstrasse 100, 10117 Berlin, Germany", "street_number": "100",
            "route": "Friedrichstrasse", "sublocality": "Mitte", "locality": "Berlin", "admin_area_level_1": "Berlin",
            "admin_area_level_2": None, "country": "Germany", "postal_code": "10117", "formatted_address":
            "Friedrichstraße 100, 10117 Berlin, Germany", "subpremise": None},
        "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c": "Jonas Weber",
        "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d": "jonas.weber@acme-facilities.example",
        "3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e": "Y3 smart lock",
        "4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f": "Fingerprint + PIN, 304 stainless steel",
        "5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a": 80,
        "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b": {"value": 640, "currency": "USD"},
        "7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c": "wire transfer",
        "8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d": "50% on signing, 50% within 30 days of delivery.",
        "9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": "2027-01-20",
        "ad0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": "Friedrichstrasse 100, 10117 Berlin, reception",
        "bd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": "24-month warranty; replacement within 5 business days.",
        "cd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": "Min Wang",
        "dd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": "wang.min@yunti.example",
        # Option fields: REST v2 gives the option id (single) or a list of ids (multiple).
        "ed0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": 31,
        "fd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e": 41,
        "0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f": [51, 52],
        "1e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f": None,
    }
    deal = {
        "id": deal_id, "title": "Smart locks for Acme Facilities, Berlin office", "owner_id": 13053568,
        "person_id": 1207, "org_id": 388, "pipeline_id": 1, "stage_id": 5, "value": 51200, "currency": "USD",
        "add_time": "2026-11-18T08:02:11Z", "update_time": "2026-11-26T02:15:07Z",
        "stage_change_time": "2026-11-26T02:15:07Z", "is_deleted": False, "is_archived": False, "status": "open",
        "probability": None, "lost_reason": None, "visible_to": 3, "close_time": None,
        # Pipedrive sends null for these on an open deal although its OpenAPI types them as strings.
        "won_time": None, "lost_time": None,
        "expected_close_date": "2026-12-01", "label_ids": [], "origin": "ManuallyCreated", "origin_id": None,
        "channel": None, "channel_id": None, "arr": None, "mrr": None, "acv": None, "custom_fields": custom,
    }
    product = {
        "id": 9101, "deal_id": deal_id, "product_id": 77, "product_variation_id": None, "name": "Y3 smart lock",
        "item_price": 640, "quantity": 80, "sum": 51200, "tax": 0, "tax_method": "inclusive", "currency": "USD",
        "discount": 0, "discount_type": "percentage", "is_enabled": True, "order_nr": 1,
        "add_time": "2026-11-18T08:05:40Z", "update_time": "2026-11-18T08:05:40Z",
        "comments": "Fingerprint + PIN, 304 stainless steel", "billing_frequency": "one-time",
        "billing_frequency_cycles": None, "billing_start_date": None,
    }
    person = {
        "id": 1207, "name": "Jonas Weber", "first_name": "Jonas", "last_name": "Weber", "owner_id": 13053568,
        "org_id": 388, "add_time": "2026-10-02T09:14:00Z", "update_time": "2026-11-18T08:00:00Z",
        "emails": [{"value": "jonas.weber@acme-facilities.example", "primary": True, "label": "work"}],
        "phones": [{"value": "+49 30 5555 0110", "primary": True, "label": "work"}],
        "is_deleted": False, "visible_to": 3, "label_ids": [], "job_title": "Head of Facilities",
        "custom_fields": {},
    }
    organization = {
        "id": 388, "name": "Acme Facilities GmbH", "owner_id": 13053568, "add_time": "2026-10-02T09:10:00Z",
        "update_time": "2026-11-18T08:00:00Z", "is_deleted": False, "visible_to": 3, "label_ids": [],
        "address": {"value": "Friedrichstrasse 100, 10117 Berlin, Germany", "country": "Germany",
                    "admin_area_level_1": "Berlin", "admin_area_level_2": "", "locality": "Berlin",
                    "sublocality": "Mitte", "route": "Friedrichstrasse", "street_number": "100", "subpremise": "",
                    "postal_code": "10117"},
        "website": "https://acme-facilities.example", "linkedin": None, "industry": None, "annual_revenue": None,
        "employee_count": None, "custom_fields": {},
    }
    user = {
        "id": 13053568, "name": "Min Wang", "default_currency": "USD", "locale": "en_US", "lang": 1,
        "email": "wang.min@yunti.example", "phone": "+86 21 5555 0101", "activated": True,
        "last_login": "2026-11-26 01:58:12", "created": "2024-02-19 07:41:03", "modified": "2026-11-26 01:58:12",
        "has_created_company": False, "access": [{"app": "sales", "admin": False, "permission_set_id":
                                                  "62cc4d7f-4038-4352-abf3-a8c1c822b631"}],
        "active_flag": True, "timezone_name": "Europe/Berlin", "timezone_offset": "+01:00", "role_id": 1,
        "icon_url": None, "is_you": True, "is_deleted": False,
    }
    return {
        "deals": {str(deal_id): deal},
        "deal_products": {"9101": product},
        "persons": {"1207": person},
        "organizations": {"388": organization},
        "users": {"13053568": user},
        "deal_fields": {f["field_code"]: f for f in PIPEDRIVE_FIELDS},
    }


# -- Salesforce (REST sObjects; the Contract of the Outbound Message sample) -------------------------------


def salesforce() -> Records:
    ids = SEED_IDS["salesforce"]
    created, modified = "2026-11-20T03:12:44.000+0000", "2026-11-26T02:15:07.000+0000"
    system = {"CreatedDate": created, "CreatedById": ids["owner"], "LastModifiedDate": modified,
              "LastModifiedById": ids["owner"], "SystemModstamp": modified, "IsDeleted": False}
    contract = {
        "Id": ids["contract"], "AccountId": ids["account"], "OwnerId": ids["owner"], "Name": "智能门锁销售合同",
        "ContractNumber": "00000107", "Status": "Draft", "StatusCode": "Draft", "StartDate": "2026-12-01",
        "ContractTerm": 12, "EndDate": "2027-11-30", "OwnerExpirationNotice": "30",
        "CustomerSignedId": ids["contact"], "CustomerSignedDate": None, "CustomerSignedTitle": "总经理",
        "CompanySignedId": None, "CompanySignedDate": None, "ActivatedDate": None, "ActivatedById": None,
        "SpecialTerms": None, "Description": None, "BillingStreet": "西湖区文三路 200 号", "BillingCity": "杭州市",
        "BillingState": "浙江省", "BillingPostalCode": "310012", "BillingCountry": "中国", "CurrencyIsoCode": "CNY",
        **system,
        "Contract_Number__c": "HT-2026-0301", "Contract_Type__c": "Sales", "Language__c": "zh_CN",
        "Amount__c": 128000.0, "Signing_Date__c": "2026-12-01", "Auto_Renew__c": False,
        "Payment_Method__c": "银行转账",
        "Payment_Terms__c": "合同签订后 10 日内支付 30% 预付款, 验收合格后 30 日内付清尾款。",
        "Delivery_Date__c": "2027-01-15", "Delivery_Place__c": "杭州市余杭区仓前街道 1 号仓库",
        "Delivery_Terms__c": "卖方负责运输, 运费已含在合同价款内。",
        "After_Sales__c": "自验收之日起保修 24 个月; 7×24 小时电话支持, 48 小时内上门。",
        "Signature_Status__c": None, "Envelope_Id__c": None,
    }
    account = {
        "Id": ids["account"], "Name": "杭州新禾贸易有限公司", "Type": "Customer", "Industry": "Retail",
        "Phone": "+86 571 5555 0200", "Website": "https://xinhe.example", "BillingStreet": "西湖区文三路 200 号",
        "BillingCity": "杭州市", "BillingState": "浙江省", "BillingPostalCode": "310012", "BillingCountry": "中国",
        "OwnerId": ids["owner"], "CurrencyIsoCode": "CNY", **system,
    }
    contact = {
        "Id": ids["contact"], "AccountId": ids["account"], "FirstName": "强", "LastName": "李", "Name": "李强",
        "Title": "总经理", "Email": "li.qiang@xinhe.example", "Phone": "+86 571 5555 0202",
        "MobilePhone": None, "OwnerId": ids["owner"], **system,
    }
    user = {
        "Id": ids["owner"], "Username": "wang.min@yunti.example.crm", "FirstName": "敏", "LastName": "王",
        "Name": "王敏", "Email": "wang.min@yunti.example", "Phone": "+86 21 5555 0101", "Title": "销售经理",
        "IsActive": True, "TimeZoneSidKey": "Asia/Shanghai", "LanguageLocaleKey": "zh_CN", **system,
    }
    opportunity = {
        "Id": ids["opportunity"], "AccountId": ids["account"], "ContractId": ids["contract"],
        "Name": "杭州新禾 智能门锁",
        "StageName": "Negotiation/Review", "Amount": 128000.0, "CloseDate": "2026-12-01", "Probability": 90.0,
        "CurrencyIsoCode": "CNY", "OwnerId": ids["owner"], "Pricebook2Id": "01s5g00000StdPbAAV",
        "HasOpportunityLineItem": True, **system,
    }
    line = {
        "Id": ids["opportunity_line_items"][0], "OpportunityId": ids["opportunity"],
        "Product2Id": "01t5g00000Y3LckAAV", "PricebookEntryId": "01u5g00000Y3PbeAAV",
        "Name": "杭州新禾 智能门锁 Y3 智能门锁",
        "ProductCode": "Y3-SS", "Description": "指纹+密码, 304 不锈钢", "Quantity": 200.0, "UnitPrice": 640.0,
        "ListPrice": 680.0, "TotalPrice": 128000.0, "Discount": None, "ServiceDate": "2027-01-15",
        "SortOrder": 1, "CurrencyIsoCode": "CNY", **system,
    }
    product = {
        "Id": "01t5g00000Y3LckAAV", "Name": "Y3 智能门锁", "ProductCode": "Y3-SS",
        "Description": "指纹+密码, 304 不锈钢",
        "Family": "Hardware", "QuantityUnitOfMeasure": "套", "IsActive": True, **system,
    }
    return {
        "Contract": {contract["Id"]: contract}, "Account": {account["Id"]: account},
        "Contact": {contact["Id"]: contact}, "User": {user["Id"]: user},
        "Opportunity": {opportunity["Id"]: opportunity}, "OpportunityLineItem": {line["Id"]: line},
        "Product2": {product["Id"]: product},
    }


# -- Zoho CRM v8 (Deals of the workflow-webhook sample: a Chinese service contract) ----------------------


def zoho() -> Records:
    ids = SEED_IDS["zoho"]
    owner = {"name": "王敏", "id": ids["owner"], "email": "wang.min@yunti.example"}
    created, modified = "2026-11-20T11:12:44+08:00", "2026-11-26T10:15:42+08:00"
    system = {"Owner": owner, "Created_By": owner, "Modified_By": owner, "Created_Time": created,
              "Modified_Time": modified, "Tag": []}
    account_ref = {"name": "苏州恒泰精密制造有限公司", "id": ids["account"]}
    deal = {
        "id": ids["deal"], "Deal_Name": "年度门锁系统运维服务", "Stage": "Negotiation/Review",
        "Pipeline": "Standard (Standard)", "Amount": 96000.0, "Currency": "CNY", "Exchange_Rate": 1,
        "Probability": 90, "Closing_Date": "2026-12-01", "Type": "Existing Business",
        "Account_Name": account_ref, "Contact_Name": {"name": "陈静", "id": ids["contact"]},
        "Description": "厂区 1,200 套智能门锁及 40 台网关的年度巡检、故障维修与固件升级。",
        "Contract_Number": "FW-2026-0042", "Contract_Type": "服务合同", "Language": "zh-CN",
        "Signing_Date": "2026-12-01", "Service_Start": "2027-01-01", "Service_End": "2027-12-31",
        "Auto_Renew": True, "Renewal_Notice_Days": 60, "Payment_Method": "银行转账",
        "Payment_Terms": "按季度支付, 每季度首月 10 日前支付 24,000.00 元。",
        "Service_Standard": "故障响应 2 小时内, 8 小时内恢复; 每季度巡检一次并出具报告。",
        "Quality_Guarantee": "维修更换的配件保修 12 个月; 服务不达标按月费 5% 扣减。",
        # The webhook sample's service clauses (deal custom fields): a service contract requires them.
        "Service_Description": "厂区 1,200 套智能门锁及 40 台网关的年度巡检、故障维修与固件升级。",
        "Our_Responsibilities": "按服务标准提供运维服务, 保守客户生产信息。",
        "Customer_Responsibilities": "提供现场通行与设备接入条件, 按期付款。",
        "Signature_Status": None, "Envelope_Id": None, **system,
    }
    account = {
        "id": ids["account"], "Account_Name": "苏州恒泰精密制造有限公司", "Account_Type": "Customer",
        "Industry": "Manufacturing", "Phone": "+86 512 5555 0300", "Website": "https://hengtai.example",
        "Billing_Street": "苏州工业园区星湖街 328 号", "Billing_City": "苏州市", "Billing_State": "江苏省",
        "Billing_Code": "215123", "Billing_Country": "中国", **system,
    }
    contact = {
        "id": ids["contact"], "First_Name": "静", "Last_Name": "陈", "Full_Name": "陈静", "Title": "行政总监",
        "Email": "chen.jing@hengtai.example", "Phone": "+86 512 5555 0303", "Mobile": None,
        "Account_Name": account_ref, **system,
    }
    products = {
        ids["products"][0]: {
            "id": ids["products"][0], "Product_Name": "智能门锁年度巡检维护服务", "Product_Code": "SRV-LOCK-Y",
            "Product_Category": "服务", "Unit_Price": 72000.0, "Usage_Unit": "年", "Qty_in_Stock": None,
            "Description": "1,200 套智能门锁: 季度巡检、故障维修、固件升级。", "Product_Active": True,
            "Taxable": True, **system,
        },
        ids["products"][1]: {
            "id": ids["products"][1], "Product_Name": "网关运维服务", "Product_Code": "SRV-GW-Y",
            "Product_Category": "服务", "Unit_Price": 24000.0, "Usage_Unit": "年", "Qty_in_Stock": None,
            "Description": "40 台网关: 监控、故障处理、固件升级。", "Product_Active": True, "Taxable": True, **system,
        },
    }
    user = {
        "id": ids["owner"], "first_name": "敏", "last_name": "王", "full_name": "王敏",
        "email": "wang.min@yunti.example", "phone": "+86 21 5555 0101", "status": "active",
        "role": {"name": "Sales Manager", "id": "5725767000000026005"},
        "profile": {"name": "Standard", "id": "5725767000000026014"}, "time_zone": "Asia/Shanghai",
        "locale": "zh_CN", "language": "zh_CN", "country_locale": "zh_CN", "confirm": True,
        "created_time": "2024-02-19T15:41:03+08:00", "Modified_Time": modified,
    }
    return {
        "Deals": {deal["id"]: deal}, "Accounts": {account["id"]: account}, "Contacts": {contact["id"]: contact},
        "Products": products, "users": {user["id"]: user},
        # Related lists: "<Module>/<record id>/<related list>" -> the related records' ids.
        "related": {f"Deals/{ids['deal']}/Products": {"ids": list(ids["products"])},
                    f"Deals/{ids['deal']}/Contact_Roles": {"ids": [ids["contact"]]}},
    }


# -- 纷享销客 Fxiaoke (销售合同 with its 合同产品 lines, in Chinese) -------------------------------------------


def fxiaoke() -> Records:
    ids = SEED_IDS["fxiaoke"]
    owner = [ids["owner"]]
    system = {"owner": owner, "owner__r": "王敏", "created_by": owner, "last_modified_by": owner,
              "data_own_department": ["1001"], "life_status": "normal", "lock_status": "0",
              "record_type": "default__c", "is_deleted": False, "create_time": 1795572907531,
              "last_modified_time": 1795659307531, "version": "3",
              "relevant_team": [{"teamMemberEmployee": owner, "teamMemberRole": "1", "teamMemberPermissionType": "2"}]}
    contract = {
        "_id": ids["contract"], "object_describe_api_name": "SaleContractObj", "name": "HT-2026-0377",
        "title__c": "智能门锁及网关销售合同", "contract_type__c": "1", "account_id": ids["account"],
        "account_id__r": "南京同创贸易有限公司", "account_address__c": "江苏省南京市鼓楼区中山北路 100 号",
        "contact_id__c": ids["contact"], "contact_id__c__r": "赵磊", "contact_name__c": "赵磊",
        "contact_email__c": "zhao.lei@tongchuang.example", "contact_phone__c": "+86 25 5555 0404",
        "owner_email__c": "wang.min@yunti.example", "mc_currency": "CNY", "contract_amount": "86400.00",
        "sign_date": 1796054400000, "start_date": 1796054400000, "end_date": 1827504000000,
        "payment_method__c": "银行转账", "payment_terms__c": "合同签订后 10 日内付 50%, 到货验收后 15 日内付清。",
        "delivery_date__c": 1799942400000, "delivery_place__c": "南京市江宁区将军大道 9 号仓库",
        "after_sales__c": "整机保修 24 个月, 7×24 小时电话支持。", "field_Sign_Status__c": "option1",
        "field_Envelope_Id__c": None, **system,
    }
    lines = [
        {"_id": ids["contract_lines"][0], "object_describe_api_name": "SaleContractLineObj",
         "name": "HT-2026-0377-01", "sale_contract_id": ids["contract"], "sale_contract_id__r": "HT-2026-0377",
         "product_id": "65f0c2a1e4b0a8f31c2d0101", "product_id__r": "Y3 智能门锁",
         "specification__c": "指纹+密码, 304 不锈钢", "quantity": "100", "unit__c": "套", "sales_price": "640.00",
         "subtotal": "64000.00", **system},
        {"_id": ids["contract_lines"][1], "object_describe_api_name": "SaleContractLineObj",
         "name": "HT-2026-0377-02", "sale_contract_id": ids["contract"], "sale_contract_id__r": "HT-2026-0377",
         "product_id": "65f0c2a1e4b0a8f31c2d0102", "product_id__r": "G1 智能网关",
         "specification__c": "Zigbee 3.0, PoE 供电", "quantity": "80", "unit__c": "台", "sales_price": "280.00",
         "subtotal": "22400.00", **system},
    ]
    account = {
        "_id": ids["account"], "object_describe_api_name": "AccountObj", "name": "南京同创贸易有限公司",
        "account_level": "A", "tel": "+86 25 5555 0400", "address": "江苏省南京市鼓楼区中山北路 100 号",
        "url": "https://tongchuang.example", **system,
    }
    contact = {
        "_id": ids["contact"], "object_describe_api_name": "ContactObj", "name": "赵磊", "account_id": ids["account"],
        "account_id__r": "南京同创贸易有限公司", "job_title": "采购经理", "mobile": "+86 138 5555 0404",
        "tel": "+86 25 5555 0404", "email": "zhao.lei@tongchuang.example", **system,
    }
    personnel = {
        "_id": ids["owner"], "object_describe_api_name": "PersonnelObj", "name": "王敏", "full_name": "王敏",
        "email": "wang.min@yunti.example", "phone": "+86 21 5555 0101", "position": "销售经理",
        "main_department": ["1001"], "status": "0", **system,
    }
    return {
        "SaleContractObj": {contract["_id"]: contract},
        "SaleContractLineObj": {line["_id"]: line for line in lines},
        "AccountObj": {account["_id"]: account}, "ContactObj": {contact["_id"]: contact},
        "PersonnelObj": {personnel["_id"]: personnel},
    }
