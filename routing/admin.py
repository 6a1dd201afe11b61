from django.contrib import admin

from routing.models import Category, Department


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "parent", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "default_department", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name_zh", "name_en")
