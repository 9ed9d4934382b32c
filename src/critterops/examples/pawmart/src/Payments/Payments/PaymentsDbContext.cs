using Microsoft.EntityFrameworkCore;
using Payments.Processing;

namespace Payments;

public sealed class PaymentsDbContext(DbContextOptions<PaymentsDbContext> options) : DbContext(options)
{
    public DbSet<Payment> Payments => Set<Payment>();

    public DbSet<Refund> Refunds => Set<Refund>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Constants.SchemaName);

        modelBuilder.Entity<Payment>(payment =>
        {
            payment.HasKey(p => p.Id);
            payment.Property(p => p.Id).ValueGeneratedNever();
            payment.HasIndex(p => p.OrderId).IsUnique();

            payment.Property(p => p.Amount).HasPrecision(18, 2);
            payment.Property(p => p.RefundedAmount).HasPrecision(18, 2).HasDefaultValue(0m);
            payment.Property(p => p.Currency).HasMaxLength(3).IsFixedLength();
            payment.Property(p => p.PaymentMethodToken).HasMaxLength(128);
            payment.Property(p => p.AuthorizationCode).HasMaxLength(64);
            payment.Property(p => p.FailureReason).HasMaxLength(500);
            payment.Property(p => p.Status).HasConversion<string>().HasMaxLength(32);

            payment.HasMany(p => p.Refunds)
                .WithOne()
                .HasForeignKey(r => r.PaymentId)
                .OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Refund>(refund =>
        {
            refund.HasKey(r => r.Id);
            refund.Property(r => r.Id).ValueGeneratedNever();
            refund.Property(r => r.Amount).HasPrecision(18, 2);
            refund.Property(r => r.Reason).HasMaxLength(500);
        });
    }
}
